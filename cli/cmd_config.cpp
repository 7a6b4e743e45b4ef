// `mailvault config check [--config PATH] [--resolve-passwords]`: validates the configuration
// without connecting anywhere and prints one summary line per account. Password sources are
// checked (file mode, variable set, program present) but no password is obtained unless
// --resolve-passwords is given, and none is ever printed.

#include <openssl/crypto.h>

#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "mailvault/config.hpp"

namespace {

constexpr const char* config_check_usage =
    "usage: mailvault config check [--config PATH] [--resolve-passwords]\n"
    "  --config PATH          configuration file (default: "
    "$XDG_CONFIG_HOME/mailvault/config.toml)\n"
    "  --resolve-passwords    also run password_command / read the password sources (the\n"
    "                         passwords are not printed)\n";

int config_check(const std::vector<std::string>& args) {
    std::string path;
    bool resolve = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--config") {
            if (i + 1 >= args.size()) {
                std::cerr << "mailvault config check: --config needs a PATH\n"
                          << config_check_usage;
                return mv::cli::exit_usage;
            }
            path = args[++i];
        } else if (a.starts_with("--config=")) {
            path = a.substr(9);
        } else if (a == "--resolve-passwords") {
            resolve = true;
        } else if (a == "-h" || a == "--help") {
            std::cout << config_check_usage;
            return mv::cli::exit_ok;
        } else {
            std::cerr << "mailvault config check: unknown argument " << a << "\n"
                      << config_check_usage;
            return mv::cli::exit_usage;
        }
    }

    namespace cfg = mv::config;
    cfg::config c;
    try {
        c = cfg::load(path.empty() ? cfg::default_config_path() : std::filesystem::path(path));
    } catch (const mv::failure& f) {
        std::cerr << f.err.message << "\n";
        return mv::cli::exit_config;
    }

    std::cout << "config: " << c.source.string() << "\n"
              << "archive: " << c.archive.string() << "\n"
              << "parallel_accounts=" << c.parallel_accounts << " zstd_level=" << c.zstd_level
              << " log_level=" << cfg::to_string(c.log_level) << "\n";
    if (c.accounts.empty()) std::cout << "no [[account]] configured\n";

    bool ok = true;
    for (const auto& acct : c.accounts) {
        std::cout << "account " << cfg::describe(acct) << "\n";
        if (mv::error err = cfg::check_password_source(acct)) {
            std::cerr << err.message << "\n";
            ok = false;
            continue;
        }
        if (resolve) {
            try {
                std::string pw = cfg::resolve_password(acct);
                OPENSSL_cleanse(pw.data(), pw.size());
                std::cout << "  password: obtained from " << cfg::to_string(acct.password.kind)
                          << "\n";
            } catch (const mv::failure& f) {
                std::cerr << f.err.message << "\n";
                ok = false;
            }
        }
    }
    if (!ok) return mv::cli::exit_config;
    std::cout << "config check: ok\n";
    return mv::cli::exit_ok;
}

}  // namespace

MV_COMMAND("config check",
           "validate the configuration file and password sources without connecting", config_check);
