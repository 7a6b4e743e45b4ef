// `mailvault import`: existing Maildir trees, mbox files and .eml files into the archive, as an
// account of protocol "import" (engine/sync/import.hpp, docs/import.md). Prints what it
// imported per folder (new / already present / skipped) and one line per skipped file or
// message; exit 1 when anything was skipped.
#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "common.hpp"
#include "mailvault/units.hpp"
#include "sync/import.hpp"

namespace mv::cli {
namespace {

int run_import_cmd(const std::vector<std::string>& args) {
    po::options_description d(
        "mailvault import --account NAME --format maildir|mbox|eml [options] PATH...");
    add_archive_options(d);
    d.add_options()("account,a", po::value<std::string>(),
                    "the archive account to file the mail under (made with protocol import)")(
        "format", po::value<std::string>(), "maildir, mbox or eml")(
        "folder", po::value<std::string>(),
        "eml: the folder of every message; maildir, mbox: the name of the top folder, "
        "subfolders go below it")("mbox-quoting", po::value<std::string>()->default_value("mboxrd"),
                                  "mboxrd (every >+From loses one >) or mboxo (only >From)")(
        "batch", po::value<std::size_t>()->default_value(500), "messages per transaction")(
        "quiet,q", "no per-folder table")("help,h", "this help");
    // The paths are positional only: kept out of --help's option list.
    po::options_description hidden;
    hidden.add_options()("path", po::value<std::vector<std::string>>(), "what to import");
    po::options_description all;
    all.add(d).add(hidden);
    po::positional_options_description pos;
    pos.add("path", -1);
    auto vm = parse(args, all, &pos);
    if (vm.count("help")) {
        std::cout << d << "\n";
        return exit_ok;
    }
    if (!vm.count("account")) throw mv::failure(errc::usage, "import needs --account NAME");
    if (!vm.count("format"))
        throw mv::failure(errc::usage, "import needs --format maildir, mbox or eml");
    if (!vm.count("path"))
        throw mv::failure(errc::usage, "import needs at least one PATH to import");
    sync::import_options o;
    o.account = vm["account"].as<std::string>();
    const std::string fmt = vm["format"].as<std::string>();
    if (fmt == "maildir")
        o.format = sync::import_format::maildir;
    else if (fmt == "mbox")
        o.format = sync::import_format::mbox;
    else if (fmt == "eml")
        o.format = sync::import_format::eml;
    else
        throw mv::failure(errc::usage,
                          "import: --format must be maildir, mbox or eml, not \"" + fmt + "\"");
    const std::string q = vm["mbox-quoting"].as<std::string>();
    if (q == "mboxrd")
        o.quoting = sync::mbox_quoting::mboxrd;
    else if (q == "mboxo")
        o.quoting = sync::mbox_quoting::mboxo;
    else
        throw mv::failure(errc::usage,
                          "import: --mbox-quoting must be mboxrd or mboxo, not \"" + q + "\"");
    o.batch_messages = vm["batch"].as<std::size_t>();
    if (o.batch_messages == 0) throw mv::failure(errc::usage, "import: --batch must be at least 1");
    if (vm.count("folder")) {
        o.folder = vm["folder"].as<std::string>();
        if (o.folder.empty()) throw mv::failure(errc::usage, "import: --folder must not be empty");
    }
    for (const auto& p : vm["path"].as<std::vector<std::string>>()) o.sources.emplace_back(p);

    const auto path = archive_path(vm);
    auto a = open_archive(path, true, false, 3, true);
    warn_if_exposed(path);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = sync::run_import(*a, o);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    if (!vm.count("quiet") && !r.folders.empty()) {
        table t;
        t.header = {"FOLDER", "NEW", "ALREADY", "SKIPPED"};
        t.right = {false, true, true, true};
        for (const auto& f : r.folders)
            t.rows.push_back({f.folder, format_count(f.added), format_count(f.present),
                              format_count(f.skipped)});
        t.print(stdout);
    }
    for (const auto& s : r.skipped)
        std::fprintf(stderr, "mailvault import: skipped %s: %s\n", s.where.c_str(),
                     s.reason.c_str());
    std::int64_t added = 0;
    for (const auto& f : r.folders) added += f.added;
    std::printf("%s: %s new messages (%s), %s already present, %s skipped, in %.1f s\n",
                o.account.c_str(), format_count(added).c_str(),
                format_size(static_cast<std::uint64_t>(r.new_bytes)).c_str(),
                format_count(r.messages - added).c_str(),
                format_count(static_cast<std::int64_t>(r.skipped.size())).c_str(), secs);
    std::fflush(stdout);
    return r.skipped.empty() ? exit_ok : exit_partial;
}

MV_COMMAND("import", "file existing Maildir, mbox or .eml mail into the archive", run_import_cmd);

}  // namespace
}  // namespace mv::cli
