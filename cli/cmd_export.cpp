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

int run_export(const std::vector<std::string>& args) {
    po::options_description desc(
        "mailvault export --archive PATH --format maildir|mbox|eml --out DIR [--account A] "
        "[--folder F] [--query Q]");
    desc.add_options()("help,h", "show this help")(
        "format", po::value<std::string>()->default_value("maildir"), "maildir, mbox or eml")(
        "out", po::value<std::string>(), "output directory")("account", po::value<std::string>(),
                                                             "only this account")(
        "folder", po::value<std::string>(), "only this folder")(
        "query", po::value<std::string>(),
        "only messages matching this search query (the language of `mailvault search`, "
        "docs/search.md)")("exclude-expunged", "skip messages gone from the server");
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
        throw mv::failure(mv::errc::usage, "export: unknown format " + fmt);
    eo.out = vm["out"].as<std::string>();
    if (vm.count("account")) eo.filter.account = vm["account"].as<std::string>();
    if (vm.count("folder")) eo.filter.mailbox = vm["folder"].as<std::string>();
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
