// mpx::Pool's out-of-line parts (mpx/pool.hpp), its callbacks' guard and the
// progress line.
#include "mpx/pool.hpp"

#include <unistd.h>

#include <cstdio>

#include "mpx/process.hpp"

namespace mpx {

Pool::Pool(PoolOptions options) : default_timeout_(options.timeout) {
  const int processes = options.processes.value_or(cpu_count());
  if (processes < 1) throw ValueError("Number of processes must be at least 1");
  if (options.maxtasksperchild && *options.maxtasksperchild < 1) {
    throw ValueError("maxtasksperchild must be a positive int or None");
  }
  detail::ProcessPoolConfig config;
  config.processes = processes;
  config.start_method = options.context ? options.context->get_start_method() : std::string();
  config.initializer = options.initializer.call();
  config.maxtasksperchild = options.maxtasksperchild.value_or(0);
  config.replace_dead_workers = true;
  core_ = std::make_unique<detail::ProcessPoolCore>(std::move(config));
}

Pool::~Pool() {
  core_->terminate();
  core_->join(detail::Deadline::never());
}

void Pool::close() { core_->close(); }

void Pool::terminate() {
  core_->terminate();
  core_->join(detail::Deadline::never());
}

void Pool::join() {
  if (!core_->closed()) throw ValueError("Pool is still running");
  core_->join(detail::Deadline::never());
}

std::size_t Pool::checked_chunksize(long size) {
  if (size < 1) throw ValueError("Chunksize must be 1+, not " + std::to_string(size));
  return static_cast<std::size_t>(size);
}

namespace detail {

void run_pool_callback(const char* what, const std::function<void()>& fn) noexcept {
  try {
    fn();
  } catch (...) {
    log_exception(std::string("exception in a pool ") + what, std::current_exception());
  }
}

Progress::Progress(bool enabled, std::size_t total)
    : on_(enabled && ::isatty(STDERR_FILENO) == 1), total_(total), start_ns_(Deadline::now_ns()) {}

void Progress::advance(std::size_t items) noexcept {
  if (!on_) return;
  done_ += items;
  const std::int64_t now = Deadline::now_ns();
  if (now - last_draw_ns_ >= 100'000'000) {
    last_draw_ns_ = now;
    draw(false);
  }
}

void Progress::finish() noexcept {
  if (!on_) return;
  draw(true);
  on_ = false;  // once
}

void Progress::draw(bool final) noexcept {
  constexpr int kWidth = 30;
  const double elapsed = static_cast<double>(Deadline::now_ns() - start_ns_) / 1e9;
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  const double frac = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  char bar[kWidth + 1];
  const int fill = static_cast<int>(frac * kWidth);
  for (int i = 0; i < kWidth; ++i) bar[i] = i < fill ? '#' : '.';
  bar[kWidth] = '\0';
  char eta[32] = "";
  if (!final && rate > 0) std::snprintf(eta, sizeof eta, " ETA %.1fs", static_cast<double>(total_ - done_) / rate);
  std::fprintf(stderr, "\r[%s] %zu/%zu %.0f items/s%s%s", bar, done_, total_, rate, eta, final ? "\n" : "   ");
  std::fflush(stderr);
}

}  // namespace detail
}  // namespace mpx
