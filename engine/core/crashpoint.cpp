#include "mailvault/crashpoint.hpp"

#if defined(MAILVAULT_CRASH_POINTS)
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace mv {

namespace {
std::atomic<long> counter{0};
std::mutex log_mu;

long crash_at() {
    static const long at = [] {
        const char* v = std::getenv("MAILVAULT_CRASH_AT");
        return v ? std::atol(v) : 0L;
    }();
    return at;
}

long signal_at() {
    static const long at = [] {
        const char* v = std::getenv("MAILVAULT_SIGNAL_AT");
        return v ? std::atol(v) : 0L;
    }();
    return at;
}
}  // namespace

void crash_point(const char* name) noexcept {
    const long n = ++counter;
    if (const char* path = std::getenv("MAILVAULT_CRASH_LOG")) {
        std::lock_guard lk(log_mu);
        if (FILE* f = std::fopen(path, "a")) {
            std::fprintf(f, "%ld %s\n", n, name);
            std::fclose(f);
        }
    }
    if (signal_at() > 0 && n == signal_at()) ::kill(::getpid(), SIGINT);  // as if Ctrl-C here
    if (crash_at() > 0 && n == crash_at()) {
        std::fprintf(stderr, "mailvault: crash point %ld (%s)\n", n, name);
        std::fflush(stderr);
        _exit(crash_exit_code);
    }
}

}  // namespace mv
#endif
