// Deterministic crash points for tests: every durable step of a workflow (a batch commit, a
// watermark write, an audit row, a DELE/EXPUNGE sent, a ledger write) calls crash_point("name").
// In builds with MAILVAULT_CRASH_POINTS (Debug and test builds; never Release) the environment
// variable MAILVAULT_CRASH_AT=N makes the Nth call in the process print
//   mailvault: crash point N (name)
// to stderr and end the process at once with _exit(crash_exit_code), like a kill -9: no
// destructors, no flush, no rollback. Tests walk N = 1, 2, 3 ... until a run completes, and after
// each crash rerun and check the invariants. MAILVAULT_CRASH_LOG=FILE appends one line per step
// ("N name") so a test can see which steps a run passes. MAILVAULT_SIGNAL_AT=N sends the process
// a SIGINT at the Nth call instead (Ctrl-C at a known step) and goes on. In other builds it does
// nothing.
#pragma once

namespace mv {

inline constexpr int crash_exit_code = 86;

#if defined(MAILVAULT_CRASH_POINTS)
void crash_point(const char* name) noexcept;
#else
inline void crash_point(const char*) noexcept {}
#endif

}  // namespace mv
