// Logging for every command (spdlog): one default logger with a stderr sink (message only, so a
// warning stays one line) and, with --log-file, a file sink with timestamps and levels.
//
// Flow: main() calls init_logging(args) first, which takes the global options out of `args`:
//   -v / --verbose (debug; twice: trace), --log-level LEVEL, --log-file PATH, --trace PATH (the
//   redacted protocol trace, mailvault/trace.hpp);
// commands that load a config call apply_config_log_level() (main's options win over the
// file's `log_level`); a progress display calls set_progress_line(true) so that a log line
// first clears the line it is drawing on.
#pragma once

#include <string>
#include <vector>

#include "mailvault/config.hpp"

namespace mv::cli {

// Throws mv::failure(errc::usage) on a bad level, errc::io when the log file cannot be opened.
void init_logging(std::vector<std::string>& args);
void apply_config_log_level(config::log_level level);
void set_progress_line(bool drawing);

}  // namespace mv::cli
