// mailvault verify: re-hash every stored message (streaming), integrity_check, audit chain.
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "archive/archive.hpp"
#include "cli.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace {

int run_verify(const std::vector<std::string>& args) {
    po::options_description desc("mailvault verify --archive PATH");
    desc.add_options()("help,h", "show this help");
    mv::cli::add_archive_options(desc);
    auto vm = mv::cli::parse(args, desc);
    if (vm.count("help")) {
        std::cout << desc;
        return mv::cli::exit_ok;
    }
    auto ap = mv::cli::open_archive(mv::cli::archive_path(vm), false, true);
    auto& a = *ap;

    bool tty = mv::cli::stderr_is_tty();
    auto last = std::chrono::steady_clock::now();
    auto rep = a.verify([&](std::int64_t done, std::int64_t total) {
        if (!tty) return;
        auto now = std::chrono::steady_clock::now();
        if (done != total && now - last < std::chrono::milliseconds(200)) return;
        last = now;
        std::fprintf(stderr, "\rverify: %lld/%lld messages", static_cast<long long>(done),
                     static_cast<long long>(total));
        if (done == total) std::fputc('\n', stderr);
    });
    for (const auto& p : rep.problems) {
        std::cout << "BAD ";
        if (p.content) std::cout << "content " << p.content->hex() << ": ";
        std::cout << p.what << "\n";
        for (const auto& w : p.where) {
            std::cout << "    in " << w.account << "/" << w.mailbox;
            if (w.uid) std::cout << " UID " << *w.uid;
            if (w.uidl) std::cout << " UIDL " << *w.uidl;
            std::cout << "\n";
        }
    }
    std::cout << "verified " << rep.contents_checked << " messages (" << rep.bytes_checked
              << " bytes), " << rep.audit_rows << " audit rows: "
              << (rep.ok() ? "all good" : std::to_string(rep.problems.size()) + " problem(s)")
              << "\n";
    return rep.ok() ? mv::cli::exit_ok : mv::cli::exit_verify_failed;
}

}  // namespace

MV_COMMAND("verify", "re-hash every archived message, check the database and the audit chain",
           run_verify);
