#include "common.hpp"

#include <unistd.h>

#include <cstdio>

namespace mv::cli {

void add_archive_options(po::options_description& d) {
    d.add_options()("config", po::value<std::string>(),
                    "configuration file (default: $XDG_CONFIG_HOME/mailvault/config.toml)")(
        "archive", po::value<std::string>(), "archive file (default: the config's `archive`)");
}

po::variables_map parse(const std::vector<std::string>& args, const po::options_description& d,
                        const po::positional_options_description* pos) {
    po::variables_map vm;
    auto parser = po::command_line_parser(args).options(d);
    if (pos) parser.positional(*pos);
    po::store(parser.run(), vm);
    po::notify(vm);
    return vm;
}

config::config load_config(const po::variables_map& vm) {
    std::filesystem::path p = vm.count("config")
                                  ? std::filesystem::path(vm["config"].as<std::string>())
                                  : config::default_config_path();
    if (!std::filesystem::exists(p))
        throw mv::failure(errc::config, "configuration file " + p.string() +
                                            " does not exist; pass --config PATH or create it "
                                            "(see docs/configuration.md)");
    return config::load(p);
}

std::vector<const config::account*> accounts_named(const config::config& cfg,
                                                   const std::vector<std::string>& names) {
    std::vector<const config::account*> out;
    for (const auto& n : names) {
        const auto* a = cfg.find(n);
        if (!a)
            throw mv::failure(errc::usage, "no account named '" + n + "' in " +
                                               cfg.source.string() +
                                               "; `mailvault config check` lists them");
        out.push_back(a);
    }
    return out;
}

std::filesystem::path archive_path(const po::variables_map& vm) {
    if (vm.count("archive")) return vm["archive"].as<std::string>();
    return load_config(vm).archive;
}

std::unique_ptr<archive::archive> open_archive(const std::filesystem::path& p, bool create,
                                               bool read_only, int zstd_level, bool defer_index) {
    if (!create && !std::filesystem::exists(p))
        throw mv::failure(errc::archive, "archive " + p.string() +
                                             " does not exist; run `mailvault sync` first or "
                                             "check --archive / the config's `archive`");
    archive::options o;
    o.create = create;
    o.read_only = read_only;
    o.zstd_level = zstd_level;
    o.defer_index = defer_index;
    return std::make_unique<archive::archive>(p, o);
}

std::unique_ptr<archive::archive> open_indexed(const std::filesystem::path& p) {
    if (std::filesystem::exists(p) && ::access(p.c_str(), W_OK) == 0) {
        auto a = open_archive(p, false, false);
        const auto n = a->index_pending();
        if (n > 0 && stderr_is_tty())
            std::fprintf(stderr, "indexed %lld new messages for search\n",
                         static_cast<long long>(n));
        return a;
    }
    return open_archive(p, false, true);
}

void warn_if_exposed(const std::filesystem::path& archive_path) {
    const std::string w = archive::exposure_warning(archive_path);
    if (!w.empty()) std::fprintf(stderr, "mailvault: warning: %s\n", w.c_str());
}

bool stderr_is_tty() {
    return isatty(2) == 1;
}

}  // namespace mv::cli
