// mailvault: dispatches to the subcommand registered under the longest matching name and turns
// mv::failure into a one-line message and a distinct exit code (see cli.hpp).
#include <malloc.h>
#include <boost/program_options/errors.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "log.hpp"

namespace mv::cli {

std::vector<command>& registry() {
    static std::vector<command> r;
    return r;
}

int exit_code_for(mv::errc c) {
    switch (c) {
        case errc::ok: return exit_ok;
        case errc::config: return exit_config;
        case errc::usage: return exit_usage;
        case errc::auth: return exit_auth;
        case errc::network:
        case errc::timeout:
        case errc::closed:
        case errc::cancelled: return exit_network;
        case errc::tls_certificate:
        case errc::tls_hostname:
        case errc::tls_handshake: return exit_tls;
        case errc::protocol:
        case errc::limit:
        case errc::server_no:
        case errc::server_bad:
        case errc::unsupported: return exit_protocol;
        case errc::archive:
        case errc::io: return exit_archive;
        case errc::archive_corrupt: return exit_verify_failed;
        case errc::internal: return exit_internal;
    }
    return exit_internal;
}

}  // namespace mv::cli

namespace {

void usage(std::ostream& out) {
    out << "mailvault " MAILVAULT_VERSION
           " - mailbox sync and archival engine\n\n"
           "Usage: mailvault COMMAND [OPTIONS]   (mailvault COMMAND --help for its options)\n\n"
           "Commands:\n";
    for (const auto& c : mv::cli::registry()) {
        std::string name = c.name;
        name.resize(std::max<std::size_t>(name.size(), 20), ' ');
        out << "  " << name << "  " << c.summary << "\n";
    }
    out << "\nOptions of every command: -v/--verbose (twice: trace), --log-level LEVEL,\n"
           "  --log-file PATH (appended, created 0600), --trace PATH (every IMAP/POP3 command\n"
           "  and response, passwords and message contents redacted; created 0600), --help.\n";
    out << "\nExit codes: 0 ok, 1 partial failure, 2 usage, 3 config, 4 authentication,\n"
           "            5 network, 6 TLS, 7 protocol/server, 8 archive, 9 verification failed,\n"
           "            70 internal error.\n";
}

}  // namespace

int main(int argc, char** argv) {
    // Message buffers of many sizes (up to max_message_bytes) come and go on several threads.
    // glibc would otherwise raise its mmap threshold after the first large free and keep such
    // buffers in fragmented arenas: fix the threshold so large buffers go back to the system at
    // once, and bound the number of arenas (peak RSS on the mixed benchmark: docs/benchmarks.md).
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_ARENA_MAX, 2);
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        mv::cli::init_logging(args);  // takes -v, --log-level and --log-file out of args
    } catch (const mv::failure& f) {
        std::cerr << "mailvault: " << f.err.message << "\n";
        return mv::cli::exit_code_for(f.err.code);
    }
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        usage(args.empty() ? std::cerr : std::cout);
        return args.empty() ? mv::cli::exit_usage : mv::cli::exit_ok;
    }
    if (args[0] == "--version" || args[0] == "-V" || args[0] == "version") {
        std::cout << "mailvault " MAILVAULT_VERSION "\n";
        return 0;
    }
    const mv::cli::command* best = nullptr;
    std::size_t best_words = 0;
    for (const auto& c : mv::cli::registry()) {
        // Split the command name into words and compare with the leading arguments.
        std::vector<std::string> words;
        std::size_t start = 0;
        while (start <= c.name.size()) {
            auto sp = c.name.find(' ', start);
            if (sp == std::string::npos) sp = c.name.size();
            words.push_back(c.name.substr(start, sp - start));
            start = sp + 1;
        }
        if (words.size() > args.size() || words.size() <= best_words) continue;
        bool match = true;
        for (std::size_t i = 0; i < words.size(); ++i) match = match && words[i] == args[i];
        if (match) {
            best = &c;
            best_words = words.size();
        }
    }
    // A command group alone ("mailvault audit", "mailvault hold --help"): its subcommands.
    if (!best) {
        std::vector<const mv::cli::command*> group;
        for (const auto& c : mv::cli::registry())
            if (c.name.rfind(args[0] + " ", 0) == 0) group.push_back(&c);
        if (!group.empty()) {
            const bool help = args.size() > 1 && (args[1] == "--help" || args[1] == "-h");
            if (args.size() > 1 && !help) {
                std::cerr << "mailvault: unknown command '" << args[0] << " " << args[1]
                          << "'; run `mailvault " << args[0] << "` for its subcommands\n";
                return mv::cli::exit_usage;
            }
            auto& out = help ? std::cout : std::cerr;
            out << "Usage: mailvault " << args[0] << " SUBCOMMAND [OPTIONS]\n\nSubcommands:\n";
            for (const auto* c : group) {
                std::string name = c->name;
                name.resize(std::max<std::size_t>(name.size(), 20), ' ');
                out << "  " << name << "  " << c->summary << "\n";
            }
            out << "\nmailvault " << args[0] << " SUBCOMMAND --help shows its options.\n";
            return help ? mv::cli::exit_ok : mv::cli::exit_usage;
        }
        std::cerr << "mailvault: unknown command '" << args[0]
                  << "'; run `mailvault --help` for the list\n";
        return mv::cli::exit_usage;
    }
    std::vector<std::string> rest(args.begin() + static_cast<long>(best_words), args.end());
    try {
        return best->run(rest);
    } catch (const boost::program_options::error& e) {
        std::cerr << "mailvault " << best->name << ": " << e.what() << "; see `mailvault "
                  << best->name << " --help`\n";
        return mv::cli::exit_usage;
    } catch (const mv::failure& f) {
        std::cerr << "mailvault: " << f.err.message << "\n";
        return mv::cli::exit_code_for(f.err.code);
    } catch (const std::exception& e) {
        std::cerr << "mailvault: internal error: " << e.what()
                  << " (please report this with the command you ran)\n";
        return mv::cli::exit_internal;
    }
}
