// mailvault show: headers and decoded text of one archived message, or its exact bytes (--raw).

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "archive/archive.hpp"
#include "cli.hpp"
#include "common.hpp"
#include "mime/message_index.hpp"

namespace po = boost::program_options;

namespace {

int run_show(const std::vector<std::string>& args) {
    po::options_description desc(
        "mailvault show --archive PATH (SHA-PREFIX | --account A --folder F --uid N) [--raw]");
    desc.add_options()("help,h", "show this help")(
        "account", po::value<std::string>(), "account name")("folder", po::value<std::string>(),
                                                             "folder name")(
        "uid", po::value<std::uint32_t>(), "IMAP UID")("raw",
                                                       "write the exact stored bytes to stdout")(
        "sha", po::value<std::string>(), "SHA-256 or a prefix of it (at least 6 hex digits)");
    po::positional_options_description pos;
    pos.add("sha", 1);
    mv::cli::add_archive_options(desc);
    auto vm = mv::cli::parse(args, desc, &pos);
    if (vm.count("help")) {
        std::cout << desc;
        return mv::cli::exit_ok;
    }
    auto ap = mv::cli::open_indexed(mv::cli::archive_path(vm));
    auto& a = *ap;

    mv::archive::sha256 h;
    if (vm.count("sha")) {
        auto prefix = vm["sha"].as<std::string>();
        if (prefix.size() < 6)
            throw mv::failure(mv::errc::usage, "show: give at least 6 hex digits");
        auto found = a.find_contents_by_prefix(prefix, 2);
        if (found.empty()) throw mv::failure(mv::errc::usage, "show: no message matches " + prefix);
        if (found.size() > 1)
            throw mv::failure(mv::errc::usage, "show: " + prefix + " is ambiguous");
        h = found[0];
    } else if (vm.count("account") && vm.count("folder") && vm.count("uid")) {
        auto e = a.find_entry(vm["account"].as<std::string>(), vm["folder"].as<std::string>(),
                              vm["uid"].as<std::uint32_t>());
        if (!e) throw mv::failure(mv::errc::usage, "show: no such message");
        h = e->content;
    } else {
        throw mv::failure(mv::errc::usage,
                          "show: give a SHA-256 prefix or --account, --folder and --uid");
    }

    if (vm.count("raw")) {
        auto err = a.read_content(
            h, [](std::string_view p) { std::fwrite(p.data(), 1, p.size(), stdout); });
        std::fflush(stdout);
        if (err) {
            std::cerr << "mailvault: " << err.message << "\n";
            return mv::cli::exit_verify_failed;
        }
        return mv::cli::exit_ok;
    }
    std::string raw;
    if (auto err = a.read_content(h, raw)) {
        std::cerr << "mailvault: " << err.message << "\n";
        return mv::cli::exit_verify_failed;
    }
    auto m = mv::mime::parse(raw);
    auto info = a.content(h);
    std::cout << "SHA-256:    " << h.hex() << "\n";
    if (info)
        std::cout << "Size:       " << info->raw_size << " bytes (stored " << info->stored_size
                  << ", " << info->codec << ")\n";
    if (!m.parsed) {
        std::cout << "(the message could not be parsed; use --raw for its bytes)\n";
        return mv::cli::exit_ok;
    }
    auto line = [](const char* k, const std::string& v) {
        if (!v.empty()) std::cout << k << v << "\n";
    };
    line("Date:       ", m.date_raw);
    line("From:       ", m.from);
    line("To:         ", m.to);
    line("Cc:         ", m.cc);
    line("Subject:    ", m.subject);
    line("Message-ID: ", m.message_id);
    std::cout << "\n" << m.text;
    if (!m.text.empty() && m.text.back() != '\n') std::cout << "\n";
    if (m.text_truncated) std::cout << "[text truncated]\n";
    return mv::cli::exit_ok;
}

}  // namespace

MV_COMMAND("show", "show one archived message (headers and text, or --raw bytes)", run_show);
