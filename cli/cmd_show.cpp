// mailvault show: one archived message: where it is filed (account, folder, UID/UIDL, flags,
// INTERNALDATE of every entry holding it), its headers, MIME parts with sizes, and its text;
// or its exact bytes (--raw), or one decoded part saved to a file (--part N --output FILE).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>

#include "archive/archive.hpp"
#include "archive/browser.hpp"
#include "cli.hpp"
#include "common.hpp"
#include "mime/message_index.hpp"
#include "mime/message_view.hpp"

namespace po = boost::program_options;

namespace {

std::string fmt_time(std::optional<std::int64_t> epoch, std::optional<int> tz_minutes) {
    if (!epoch) return "-";
    int tz = tz_minutes.value_or(0);
    std::time_t t = static_cast<std::time_t>(*epoch + tz * 60);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    char zone[32];
    std::snprintf(zone, sizeof zone, " %c%02d%02d", tz < 0 ? '-' : '+', std::abs(tz) / 60,
                  std::abs(tz) % 60);
    return std::string(buf) + zone;
}

// Writes part `n` to `out` ("-": stdout). The file is created 0600 and an existing one is only
// replaced with `force`.
int save_part(const mv::mime::spooled_message& raw, int n, const std::string& out, bool force) {
    int fd = 1;
    if (out != "-") {
        int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
        fd = ::open(out.c_str(), flags, 0600);
        if (fd < 0) {
            if (errno == EEXIST)
                throw mv::failure(mv::errc::usage,
                                  "show: " + out + " exists; pass --force to replace it");
            throw mv::failure(mv::errc::io,
                              "show: cannot create " + out + ": " + std::strerror(errno));
        }
        if (force) ::fchmod(fd, 0600);
    }
    std::string write_error;
    auto err = mv::mime::decode_part(raw, n, [&](std::string_view b) {
        while (!b.empty() && write_error.empty()) {
            ssize_t w = ::write(fd, b.data(), b.size());
            if (w < 0) {
                if (errno == EINTR) continue;
                write_error = std::strerror(errno);
                break;
            }
            b.remove_prefix(static_cast<std::size_t>(w));
        }
    });
    bool failed = err || !write_error.empty();
    if (out != "-") {
        if (!failed && ::fsync(fd) != 0) write_error = std::strerror(errno), failed = true;
        ::close(fd);
        if (failed) ::unlink(out.c_str());
    }
    if (err) throw mv::failure(err.code, "show: " + err.message);
    if (!write_error.empty())
        throw mv::failure(mv::errc::io, "show: writing " + out + " failed: " + write_error);
    return mv::cli::exit_ok;
}

int run_show(const std::vector<std::string>& args) {
    po::options_description desc(
        "mailvault show --archive PATH (SHA-PREFIX | --account A --folder F --uid N | --account "
        "A --uidl X) [--raw | --part N --output FILE [--force]]");
    desc.add_options()("help,h", "show this help")(
        "account", po::value<std::string>(), "account name")("folder", po::value<std::string>(),
                                                             "folder name")(
        "uid", po::value<std::uint32_t>(), "IMAP UID")("uidl", po::value<std::string>(),
                                                       "POP3 UIDL (with --account)")(
        "raw", "write the exact stored bytes to stdout")(
        "part", po::value<int>(), "the MIME part to save (numbers as listed under Parts)")(
        "output,o", po::value<std::string>(),
        "file to save --part to (created 0600; - for stdout)")("force",
                                                               "replace an existing --output file")(
        "sha", po::value<std::string>(), "SHA-256 or a prefix of it (at least 6 hex digits)");
    po::positional_options_description pos;
    pos.add("sha", 1);
    mv::cli::add_archive_options(desc);
    auto vm = mv::cli::parse(args, desc, &pos);
    if (vm.count("help")) {
        std::cout << desc;
        return mv::cli::exit_ok;
    }
    if (vm.count("part") != vm.count("output"))
        throw mv::failure(mv::errc::usage, "show: --part and --output go together");
    if (vm.count("part") && vm.count("raw"))
        throw mv::failure(mv::errc::usage, "show: give --raw or --part, not both");
    auto ap = mv::cli::open_indexed(mv::cli::archive_path(vm));
    auto& a = *ap;
    mv::archive::browser b(a);

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
    } else if (vm.count("account") && vm.count("uidl")) {
        auto e = b.find_uidl(vm["account"].as<std::string>(), vm["uidl"].as<std::string>());
        if (!e)
            throw mv::failure(mv::errc::usage, "show: account " + vm["account"].as<std::string>() +
                                                   " has no message with UIDL " +
                                                   vm["uidl"].as<std::string>());
        h = e->content;
    } else if (vm.count("account") && vm.count("folder") && vm.count("uid")) {
        auto e = a.find_entry(vm["account"].as<std::string>(), vm["folder"].as<std::string>(),
                              vm["uid"].as<std::uint32_t>());
        if (!e) throw mv::failure(mv::errc::usage, "show: no such message");
        h = e->content;
    } else {
        throw mv::failure(mv::errc::usage,
                          "show: give a SHA-256 prefix, --account with --folder and --uid, or "
                          "--account with --uidl");
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
    // Spooled to a private temporary file, not read into memory: GMime parses the file, so a
    // 200 MB message is shown and its parts saved in bounded memory (docs/search.md).
    mv::mime::spooled_message raw;
    if (auto err = a.read_content(h, [&](std::string_view p) { raw.append(p); })) {
        std::cerr << "mailvault: " << err.message << "\n";
        return mv::cli::exit_verify_failed;
    }
    if (vm.count("part"))
        return save_part(raw, vm["part"].as<int>(), vm["output"].as<std::string>(),
                         vm.count("force") > 0);

    auto v = mv::mime::view(raw);
    auto info = a.content(h);
    std::cout << "SHA-256:    " << h.hex() << "\n";
    if (info)
        std::cout << "Size:       " << info->raw_size << " bytes (stored " << info->stored_size
                  << ", " << info->codec << ")\n";
    auto where = b.holders(h);
    std::cout << "Stored in:  " << (where.empty() ? "(no entry refers to it)" : "") << "\n";
    for (const auto& e : where) {
        std::cout << "  " << e.account << " / " << e.folder;
        if (e.uid) std::cout << "  UID " << *e.uid;
        if (e.uidvalidity) std::cout << " (UIDVALIDITY " << *e.uidvalidity << ")";
        if (e.uidl) std::cout << "  UIDL " << *e.uidl;
        std::cout << "  flags " << (e.flags.empty() ? "(none)" : e.flags) << "  INTERNALDATE "
                  << fmt_time(e.internaldate, e.internaldate_tz);
        if (e.expunged_at) std::cout << "  expunged on the server";
        if (e.held) std::cout << "  on hold";
        std::cout << "\n";
    }
    if (!v.parsed) {
        std::cout << "(the message could not be parsed; use --raw for its bytes)\n";
        return mv::cli::exit_ok;
    }
    auto line = [](const char* k, const std::string& val) {
        if (!val.empty()) std::cout << k << val << "\n";
    };
    line("Date:       ", v.date);
    line("From:       ", v.from);
    line("To:         ", v.to);
    line("Cc:         ", v.cc);
    line("Subject:    ", v.subject);
    line("Message-ID: ", v.message_id);
    std::cout << "Parts:\n";
    for (const auto& p : v.parts) {
        std::cout << "  " << p.number << "  " << p.content_type << "  " << p.size << " bytes";
        if (!p.filename.empty()) std::cout << "  " << p.filename;
        if (p.body)
            std::cout << "  (body)";
        else if (!p.disposition.empty())
            std::cout << "  " << p.disposition;
        if (!p.content_id.empty()) std::cout << "  cid:" << p.content_id;
        std::cout << "\n";
    }
    const std::string& text = !v.text.empty() ? v.text : mv::mime::html_to_text(v.html);
    std::cout << "\n" << text;
    if (!text.empty() && text.back() != '\n') std::cout << "\n";
    if (v.text_truncated) std::cout << "[text truncated]\n";
    return mv::cli::exit_ok;
}

}  // namespace

MV_COMMAND("show",
           "show one archived message: where it is filed, headers, parts, text (or --raw, --part)",
           run_show);
