// mailvault export: archived messages to Maildir, mboxrd or .eml files.

#include <boost/program_options.hpp>
#include <csignal>
#include <iostream>

#include "archive/export.hpp"
#include "cli.hpp"
#include "common.hpp"
#include "search/query.hpp"

namespace po = boost::program_options;

namespace {

std::string single_quoted(const std::string& s) {
    return "'" + s + "'";
}

int run_export(const std::vector<std::string>& args) {
    po::options_description desc(
        "mailvault export --archive PATH --format maildir|mbox|eml --out DIR [--account A] "
        "[--folder PATTERN]... [--query Q] [--line-endings lf|crlf] [--layout fs|maildir++]");
    desc.add_options()("help,h", "show this help")(
        "format", po::value<std::string>()->default_value("maildir"), "maildir, mbox or eml")(
        "out", po::value<std::string>(), "output directory")("account", po::value<std::string>(),
                                                             "only this account")(
        "folder", po::value<std::vector<std::string>>()->composing(),
        "only folders matching this pattern, as in sync --folder (repeatable; * and %, a plain "
        "name includes its subfolders)")(
        "query", po::value<std::string>(),
        "only messages matching this search query (the language of `mailvault search`, "
        "man mailvault-search)")("exclude-expunged", "skip messages gone from the server")(
        "line-endings", po::value<std::string>(),
        "lf (the default for maildir and mbox) or crlf (the archived bytes unchanged; the "
        "default for eml)")("layout", po::value<std::string>()->default_value("fs"),
                            "Maildir folders: fs (nested directories) or maildir++ (.A.B "
                            "directories, INBOX the account's root)");
    mv::cli::add_archive_options(desc);
    auto vm = mv::cli::parse(args, desc);
    if (vm.count("help")) {
        std::cout << desc;
        return mv::cli::exit_ok;
    }
    if (!vm.count("out")) throw mv::failure(mv::errc::usage, "export: --out is required");
    mv::archive::export_options eo;
    auto fmt = vm["format"].as<std::string>();
    if (fmt == "maildir")
        eo.format = mv::archive::export_format::maildir;
    else if (fmt == "mbox")
        eo.format = mv::archive::export_format::mbox;
    else if (fmt == "eml")
        eo.format = mv::archive::export_format::eml;
    else
        throw mv::failure(mv::errc::usage,
                          "export: unknown format " + fmt + "; use maildir, mbox or eml");
    if (vm.count("line-endings")) {
        auto le = vm["line-endings"].as<std::string>();
        if (le == "lf")
            eo.endings = mv::archive::line_endings::lf;
        else if (le == "crlf")
            eo.endings = mv::archive::line_endings::crlf;
        else
            throw mv::failure(mv::errc::usage,
                              "export: unknown --line-endings " + le + "; use lf or crlf");
    }
    const auto layout = vm["layout"].as<std::string>();
    if (layout == "maildir++")
        eo.layout = mv::archive::maildir_layout::maildirpp;
    else if (layout != "fs")
        throw mv::failure(mv::errc::usage,
                          "export: unknown --layout " + layout + "; use fs or maildir++");
    if (!vm["layout"].defaulted() && eo.format != mv::archive::export_format::maildir)
        throw mv::failure(mv::errc::usage, "export: --layout applies to --format maildir only");
    eo.out = vm["out"].as<std::string>();
    if (vm.count("account")) eo.filter.account = vm["account"].as<std::string>();
    if (vm.count("folder")) eo.folders = vm["folder"].as<std::vector<std::string>>();
    eo.filter.include_expunged = !vm.count("exclude-expunged");

    std::string query;
    if (vm.count("query")) {
        query = vm["query"].as<std::string>();
        (void)mv::search::parse(query);  // a bad query fails before the archive is opened
    }
    // --query reads the search index: index what sync left pending (when the file is writable).
    auto ap = query.empty() ? mv::cli::open_archive(mv::cli::archive_path(vm), false, true)
                            : mv::cli::open_indexed(mv::cli::archive_path(vm));
    auto& a = *ap;
    // A file size limit (ulimit -f) must fail the write (EFBIG), reported like a full disk,
    // instead of killing the process half-way with SIGXFSZ.
    std::signal(SIGXFSZ, SIG_IGN);
    auto st = mv::archive::export_entries(a, eo, query);
    if (st.selected == 0 && (eo.filter.account || !eo.folders.empty() || !query.empty())) {
        // Like search: nothing matched is exit 1, and nothing was written.
        std::string what;
        if (eo.filter.account) what += " --account " + single_quoted(*eo.filter.account);
        for (const auto& f : eo.folders) what += " --folder " + single_quoted(f);
        if (!query.empty()) what += " --query " + single_quoted(query);
        std::cerr << "mailvault: export: no message matches" << what
                  << "; `mailvault status` lists the accounts and folders archived\n";
        return mv::cli::exit_partial;
    }
    for (const auto& e : st.errors) std::cerr << "mailvault: " << e << "\n";
    if (st.failure) {
        std::cerr << "mailvault: " << st.failure.message << "\n";
        return mv::cli::exit_code_for(st.failure.code);
    }
    std::cout << "exported " << st.messages << " messages (" << st.bytes << " bytes) to "
              << eo.out.string() << "\n";
    return st.errors.empty() ? mv::cli::exit_ok : mv::cli::exit_verify_failed;
}

}  // namespace

MV_COMMAND("export", "export archived messages as Maildir, mbox (mboxrd) or .eml files",
           run_export);
