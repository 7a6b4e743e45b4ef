#include "common.hpp"

#include "log.hpp"

#include <locale.h>
#include <unistd.h>

#include <cstdlib>

#include <algorithm>
#include <cstdio>
#include <cwchar>

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
                                            "(see `man 5 mailvault-config`)");
    auto cfg = config::load(p);
    apply_config_log_level(cfg.log_level);
    return cfg;
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
    // A display that redraws its line needs a terminal that understands "\r\033[K": not a
    // pipe or file, and not TERM=dumb (Emacs shell buffers, some CI consoles) or no TERM at all.
    if (isatty(2) != 1) return false;
    const char* term = std::getenv("TERM");
    return term && *term && std::string_view(term) != "dumb";
}

std::size_t display_width(std::string_view utf8) {
    // wcwidth needs a UTF-8 LC_CTYPE whatever the user's locale; C.UTF-8 is built into glibc.
    static const locale_t utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", nullptr);
    if (!utf8_locale) return utf8.size();
    const locale_t old = uselocale(utf8_locale);
    std::size_t width = 0;
    std::mbstate_t st{};
    for (std::size_t i = 0; i < utf8.size();) {
        wchar_t wc = 0;
        const std::size_t n = std::mbrtowc(&wc, utf8.data() + i, utf8.size() - i, &st);
        if (n == static_cast<std::size_t>(-1) || n == static_cast<std::size_t>(-2) || n == 0) {
            st = {};
            ++width;
            ++i;
            continue;
        }
        const int w = ::wcwidth(wc);
        width += w < 0 ? 1 : static_cast<std::size_t>(w);
        i += n;
    }
    uselocale(old);
    return width;
}

void table::print(std::FILE* out) const {
    std::vector<std::size_t> w(header.size(), 0);
    auto widen = [&](const std::vector<std::string>& r) {
        for (std::size_t i = 0; i < r.size() && i < w.size(); ++i)
            w[i] = std::max(w[i], display_width(r[i]));
    };
    widen(header);
    for (const auto& r : rows) widen(r);
    auto line = [&](const std::vector<std::string>& r) {
        std::string s;
        for (std::size_t i = 0; i < r.size() && i < w.size(); ++i) {
            const std::size_t pad = w[i] - std::min(w[i], display_width(r[i]));
            const bool last = i + 1 == r.size();
            if (i) s += "  ";
            if (i < right.size() && right[i]) s.append(pad, ' ');
            s += r[i];
            if (!(i < right.size() && right[i]) && !last) s.append(pad, ' ');
        }
        std::fprintf(out, "%s\n", s.c_str());
    };
    line(header);
    for (const auto& r : rows) line(r);
}

}  // namespace mv::cli
