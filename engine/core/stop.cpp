#include "mailvault/stop.hpp"

#include <atomic>
#include <map>
#include <mutex>

namespace mv {
namespace {

std::atomic<bool> stopping{false};
std::mutex mu;
int next_id = 0;

std::map<int, std::function<void()>>& callbacks() {
    static std::map<int, std::function<void()>> m;
    return m;
}

}  // namespace

void request_stop() {
    std::lock_guard lk(mu);
    if (stopping.exchange(true)) return;
    for (auto& [id, fn] : callbacks()) fn();
}

bool stop_requested() noexcept {
    return stopping.load();
}

int add_stop_callback(std::function<void()> fn) {
    std::lock_guard lk(mu);
    if (stopping) fn();
    const int id = ++next_id;
    callbacks().emplace(id, std::move(fn));
    return id;
}

void remove_stop_callback(int id) {
    std::lock_guard lk(mu);
    callbacks().erase(id);
}

}  // namespace mv
