// IdTable: values under rising ids, taken in any order (detail/id_table.hpp).
#include "mpx/detail/id_table.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace mpx::detail {
namespace {

TEST(IdTable, FindsAndTakesInAnyOrder) {
  IdTable<std::string> table;
  for (std::uint64_t id = 1; id <= 5; ++id) table.emplace(id, "v" + std::to_string(id));
  EXPECT_EQ(table.size(), 5u);
  ASSERT_NE(table.find(3), nullptr);
  EXPECT_EQ(*table.find(3), "v3");
  EXPECT_EQ(table.take(3), "v3");
  EXPECT_EQ(table.find(3), nullptr);
  EXPECT_FALSE(table.take(3).has_value());  // taken once only
  EXPECT_EQ(table.take(1), "v1");
  EXPECT_EQ(table.take(5), "v5");
  EXPECT_FALSE(table.take(0).has_value());
  EXPECT_FALSE(table.take(99).has_value());
  EXPECT_EQ(table.size(), 2u);
  EXPECT_TRUE(table.contains(2));
  EXPECT_TRUE(table.contains(4));
}

TEST(IdTable, SkippedIdsAreEmptyAndAnEmptiedTableStartsAgainAnywhere) {
  IdTable<int> table;
  table.emplace(10, 10);
  table.emplace(13, 13);  // 11 and 12 never added
  EXPECT_EQ(table.find(11), nullptr);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.take(10), 10);
  EXPECT_EQ(table.take(13), 13);
  EXPECT_TRUE(table.empty());
  table.emplace(1000, 1);
  EXPECT_EQ(table.take(1000), 1);
}

// A value held back while thousands of later ones come and go (a long task
// among short ones) leaves the deque for the overflow map: it is still
// found, and the deque does not grow with every id since.
TEST(IdTable, AValueLeftBehindIsStillFoundAfterManyLaterOnes) {
  IdTable<std::unique_ptr<int>> table;
  table.emplace(1, std::make_unique<int>(1));
  for (std::uint64_t id = 2; id < 200000; ++id) {
    table.emplace(id, std::make_unique<int>(static_cast<int>(id)));
    ASSERT_EQ(**table.take(id), static_cast<int>(id));
  }
  EXPECT_EQ(table.size(), 1u);
  ASSERT_NE(table.find(1), nullptr);
  EXPECT_EQ(**table.take(1), 1);
  EXPECT_TRUE(table.empty());
}

TEST(IdTable, DrainVisitsEveryValueOnceThenEmpties) {
  IdTable<int> table;
  table.emplace(1, 1);
  for (std::uint64_t id = 2; id < 5000; ++id) table.emplace(id, static_cast<int>(id));
  for (std::uint64_t id = 2; id < 5000; id += 2) table.take(id);
  long sum = 0;
  std::size_t seen = 0;
  table.drain([&](std::uint64_t id, int& v) {
    EXPECT_EQ(static_cast<std::uint64_t>(v), id);
    sum += v;
    ++seen;
  });
  long expect = 0;
  std::size_t count = 0;
  for (std::uint64_t id = 1; id < 5000; ++id) {
    if (id == 1 || id % 2 == 1) {
      expect += static_cast<long>(id);
      ++count;
    }
  }
  EXPECT_EQ(seen, count);
  EXPECT_EQ(sum, expect);
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(table.find(1), nullptr);
}

}  // namespace
}  // namespace mpx::detail
