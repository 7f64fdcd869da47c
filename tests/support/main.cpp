// The main() of every test binary: mpx::init, gtest, and the leak guard around each test.
#include <gtest/gtest.h>

#include "mpx/context.hpp"
#include "support/leak_guard.hpp"

namespace {

class LeakListener : public testing::EmptyTestEventListener {
  void OnTestStart(const testing::TestInfo&) override { before_ = mpx::test::take_snapshot(); }
  void OnTestEnd(const testing::TestInfo& info) override {
    if (info.result()->Skipped()) return;
    auto report = mpx::test::leaks(before_, mpx::test::take_snapshot());
    if (!report.empty()) {
      // OnTestEnd is past the test body: record the failure on the test itself.
      ADD_FAILURE() << "the test left things behind:\n" << report;
    }
  }
  mpx::test::Snapshot before_;
};

}  // namespace

int main(int argc, char** argv) {
  // First thing, as every program that may spawn: a spawned child of a test
  // runs its shipped call here and exits.
  mpx::init(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  testing::UnitTest::GetInstance()->listeners().Append(new LeakListener);
  return RUN_ALL_TESTS();
}
