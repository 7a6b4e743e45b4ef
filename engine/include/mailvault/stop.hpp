// A request to stop the run (Ctrl-C, SIGTERM), seen by every workflow.
//
// request_stop() sets the flag and calls every registered callback once: each open network
// connection registers one that cancels it (net::connection), so a command blocked on a server
// returns at once with errc::cancelled. Workflows check stop_requested() between steps (before a
// folder, before a reconnect): what was committed stays committed, the batch in flight is
// completed or rolled back exactly as after a lost connection, and no watermark moves past what
// is archived. Nothing here is async-signal-safe: call request_stop() from a thread that
// received the signal with sigwait (cli/cmd_sync.cpp), not from a signal handler.
#pragma once

#include <functional>

namespace mv {

void request_stop();
bool stop_requested() noexcept;

// Registers fn to run on request_stop() (at once if a stop was already requested); returns an
// id for remove_stop_callback. Callbacks must be quick and must not register or remove others.
int add_stop_callback(std::function<void()> fn);
void remove_stop_callback(int id);

}  // namespace mv
