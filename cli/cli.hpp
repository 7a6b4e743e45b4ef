// The mailvault program: one file per subcommand (cli/cmd_*.cpp), each registering itself with
// MV_COMMAND. main.cpp dispatches on the first argument and maps mv::failure to exit codes.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "mailvault/error.hpp"

namespace mv::cli {

// Exit codes (documented in README.md and `mailvault --help`). Stable: scripts depend on them.
enum exit_code : int {
    exit_ok = 0,
    exit_partial = 1,        // some accounts/folders failed, others succeeded
    exit_usage = 2,          // bad command line
    exit_config = 3,         // bad configuration file
    exit_auth = 4,           // authentication rejected
    exit_network = 5,        // connection, timeout
    exit_tls = 6,            // certificate or TLS handshake failure
    exit_protocol = 7,       // server spoke nonsense / refused a command / lacks a capability
    exit_archive = 8,        // archive cannot be opened or written
    exit_verify_failed = 9,  // archive content failed verification
    exit_internal = 70,
};

int exit_code_for(mv::errc c);

// args excludes the program and subcommand names.
using command_fn = std::function<int(const std::vector<std::string>& args)>;

struct command {
    std::string name;     // e.g. "sync", "debug parse-imap" (two words allowed)
    std::string summary;  // one line for `mailvault --help`
    command_fn run;
};

std::vector<command>& registry();

struct registrar {
    registrar(std::string name, std::string summary, command_fn fn) {
        registry().push_back({std::move(name), std::move(summary), std::move(fn)});
    }
};

}  // namespace mv::cli

#define MV_CLI_CONCAT2(a, b) a##b
#define MV_CLI_CONCAT(a, b) MV_CLI_CONCAT2(a, b)
// MV_COMMAND("verify", "Re-hash every stored message ...", [](const auto& args) { ... });
#define MV_COMMAND(name, summary, fn)                                        \
    static ::mv::cli::registrar MV_CLI_CONCAT(mv_cmd_registrar_, __LINE__) { \
        name, summary, fn                                                    \
    }
