// mailvault serve: the read-only web viewer (man mailvault-serve): search, folders, messages,
// threads, the audit log and holds, over HTTP(S) with Boost.Beast. `serve --hash-password` reads a
// password from stdin and prints the password_hash line for a [[serve.user]].
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "archive/archive.hpp"
#include "cli.hpp"
#include "common.hpp"
#include "web/auth.hpp"
#include "web/pages.hpp"
#include "web/server.hpp"

namespace po = boost::program_options;

namespace {

int hash_password_from_stdin() {
    if (isatty(0))
        std::fprintf(stderr, "password (input is not echoed by a pipe; type it and press Enter): ");
    std::string pw;
    if (!std::getline(std::cin, pw) || pw.empty())
        throw mv::failure(mv::errc::usage,
                          "serve --hash-password: no password on stdin; pipe it in, e.g. from a "
                          "password manager, never on the command line");
    if (!pw.empty() && pw.back() == '\r') pw.pop_back();
    std::printf("password_hash = \"%s\"\n", mv::web::hash_password(pw).c_str());
    return mv::cli::exit_ok;
}

int run_serve(const std::vector<std::string>& args) {
    po::options_description desc(
        "mailvault serve --archive PATH [--config FILE] [--listen 127.0.0.1:8080]");
    desc.add_options()("help,h", "show this help")(
        "listen", po::value<std::string>(),
        "HOST:PORT to listen on (default: [serve] listen, else 127.0.0.1:8080)")(
        "require-login", "require a login also on a loopback address")(
        "insecure-http-on-network",
        "allow plain HTTP on a non-loopback address (only behind a TLS-terminating proxy)")(
        "workers", po::value<unsigned>()->default_value(4), "worker threads (1..64)")(
        "hash-password", "read a password from stdin and print a password_hash line");
    mv::cli::add_archive_options(desc);
    auto vm = mv::cli::parse(args, desc);
    if (vm.count("help")) {
        std::cout << desc;
        return mv::cli::exit_ok;
    }
    if (vm.count("hash-password")) return hash_password_from_stdin();

    mv::config::serve_settings settings;
    if (vm.count("config") || std::filesystem::exists(mv::config::default_config_path()))
        settings = mv::cli::load_config(vm).serve;
    std::string listen = vm.count("listen") ? vm["listen"].as<std::string>() : settings.listen;
    mv::web::server_options so;
    if (auto err = mv::web::parse_listen(listen, so.host, so.port)) throw mv::failure(err);
    so.tls_cert = settings.tls_cert;
    so.tls_key = settings.tls_key;
    unsigned workers = vm["workers"].as<unsigned>();
    if (workers < 1 || workers > 64)
        throw mv::failure(mv::errc::usage, "serve: --workers must be 1..64");
    so.workers = workers;

    auto decision = mv::web::decide_bind(
        so.host, !so.tls_cert.empty(), vm.count("require-login") || settings.require_login,
        vm.count("insecure-http-on-network") > 0, settings.users.size());
    if (decision.refusal) throw mv::failure(decision.refusal);
    for (const auto& u : settings.users)
        if (auto why = mv::web::check_password_hash(u.password_hash); !why.empty())
            throw mv::failure(mv::errc::config, "serve: the password_hash of user '" + u.name +
                                                    "' is unusable: " + why);

    const auto path = mv::cli::archive_path(vm);
    mv::cli::warn_if_exposed(path);
    {
        // Index what sync stored without indexing, once, before the workers open the file.
        auto first = mv::cli::open_indexed(path);
        if (::access(path.c_str(), W_OK) != 0)
            throw mv::failure(mv::errc::archive,
                              "serve: " + path.string() +
                                  " is not writable; serve writes every message view to the "
                                  "archive's audit log, so it needs write access");
    }
    mv::web::site_options o;
    o.require_login = decision.require_login;
    o.tls = !so.tls_cert.empty();
    o.users = settings.users;
    auto shared = std::make_shared<mv::web::site>(o);
    mv::web::server srv(so, [&] {
        return mv::web::make_handler(shared, mv::cli::open_archive(path, false, false));
    });
    std::string shown_host = so.host.find(':') != std::string::npos ? "[" + so.host + "]" : so.host;
    std::fprintf(stderr, "mailvault serve: listening on %s://%s:%u/ (%s); Ctrl-C stops\n",
                 o.tls ? "https" : "http", shown_host.c_str(), static_cast<unsigned>(srv.port()),
                 o.require_login ? "login required" : "no login: loopback only");
    std::fflush(stderr);
    srv.run();
    std::fprintf(stderr, "mailvault serve: stopped\n");
    return mv::cli::exit_ok;
}

}  // namespace

MV_COMMAND("serve",
           "read-only web viewer: search, folders, messages, audit log (man mailvault-serve)",
           run_serve);
