#include "imap/debug_parse.hpp"

#include <istream>
#include <iterator>
#include <ostream>

#include "imap/parsers.hpp"

namespace mv::imap {

std::string lf_to_crlf(std::string_view in) {
    std::string out;
    out.reserve(in.size() + in.size() / 16);
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out += '\r';
        out += in[i];
    }
    return out;
}

namespace {

std::string join(const std::vector<std::string>& v) {
    std::string s = "(";
    for (auto& x : v) {
        if (s.size() > 1) s += ' ';
        s += x;
    }
    return s + ")";
}

template <class T>
void field(std::string& line, const char* name, const std::optional<T>& v) {
    if (v) line += std::string(" ") + name + "=" + std::to_string(*v);
}

}  // namespace

mv::error describe_response(const response& r, std::string& line) {
    line.clear();
    switch (r.type) {
        case resp_type::continuation:
            line = "continuation text=\"" + escape_bytes(r.text, 80) + "\"";
            return {};
        case resp_type::tagged: line = "tagged " + std::string(r.tag); break;
        case resp_type::untagged: line = "untagged"; break;
    }
    if (r.status != resp_status::none) {
        line += std::string(" ") + status_name(r.status);
        if (!r.code.empty()) line += " code=" + to_upper(r.code);
        if (auto a = parse_appenduid(r))
            line += " uidvalidity=" + std::to_string(a->uidvalidity) +
                    " uids=" + format_uid_set(a->uids);
        if (auto c = parse_copyuid(r))
            line += " uidvalidity=" + std::to_string(c->uidvalidity) +
                    " src=" + format_uid_set(c->source) + " dst=" + format_uid_set(c->dest);
        if (r.has_code("CAPABILITY"))
            line += " caps=" + std::to_string(parse_capability_values(r.code_args).items.size());
        if (!r.code.empty() && !r.code_args.empty() && !r.has_code("CAPABILITY") &&
            !r.has_code("COPYUID") && !r.has_code("APPENDUID"))
            line += " args=\"" + escape_bytes(r.code_raw, 60) + "\"";
        line += " text=\"" + escape_bytes(r.text, 80) + "\"";
        return {};
    }
    if (r.number) line += " " + std::to_string(*r.number);
    line += " " + to_upper(r.name);
    if (r.is_data("FETCH")) {
        fetch_attrs f;
        if (auto e = parse_fetch(r, f)) return e;
        field(line, "uid", f.uid);
        if (f.flags) line += " flags=" + join(*f.flags);
        field(line, "internaldate", f.internaldate);
        field(line, "size", f.rfc822_size);
        field(line, "modseq", f.modseq);
        field(line, "x-gm-msgid", f.gm_msgid);
        field(line, "x-gm-thrid", f.gm_thrid);
        if (f.gm_labels) line += " x-gm-labels=" + join(*f.gm_labels);
        for (auto& b : f.bodies) {
            line += " body[" + b.section + "]";
            if (b.origin) line += "<" + std::to_string(*b.origin) + ">";
            line += b.nil ? "=NIL" : "=" + std::to_string(b.size) + "B";
        }
    } else if (r.is_data("LIST") || r.is_data("LSUB") || r.is_data("XLIST")) {
        list_entry l;
        if (auto e = parse_list(r, l)) return e;
        line += " attrs=" + join(l.attributes) +
                " delim=" + (l.delimiter ? std::string(1, l.delimiter) : std::string("NIL")) +
                " name=\"" + escape_bytes(l.name, 80) + "\"";
    } else if (r.is_data("STATUS")) {
        status_info s;
        if (auto e = parse_status(r, s)) return e;
        line += " mailbox=\"" + escape_bytes(s.mailbox, 80) + "\"";
        field(line, "messages", s.messages);
        field(line, "recent", s.recent);
        field(line, "uidnext", s.uidnext);
        field(line, "uidvalidity", s.uidvalidity);
        field(line, "unseen", s.unseen);
        field(line, "highestmodseq", s.highestmodseq);
    } else if (r.is_data("SEARCH") || r.is_data("ESEARCH")) {
        search_result s;
        if (auto e = r.is_data("SEARCH") ? parse_search(r, s) : parse_esearch(r, s)) return e;
        line += " count=" + std::to_string(s.ids.size());
        if (!s.all.empty()) line += " all=" + format_uid_set(s.all);
        field(line, "min", s.min);
        field(line, "max", s.max);
        field(line, "modseq", s.modseq);
    } else if (r.is_data("VANISHED")) {
        vanished_info v;
        if (auto e = parse_vanished(r, v)) return e;
        line += std::string(v.earlier ? " earlier" : "") + " uids=" + format_uid_set(v.uids);
    } else if (r.is_data("CAPABILITY")) {
        line += " caps=" + join(parse_capability_values(r.args).items);
    } else if (r.is_data("ENABLED")) {
        line += " " + join(parse_enabled(r));
    } else if (r.is_data("FLAGS")) {
        mailbox_state st;
        apply_select_response(r, st);
        line += " " + join(st.flags);
    } else if (r.is_data("ID")) {
        line += " pairs=" + std::to_string(parse_id(r).size());
    }
    return {};
}

int debug_parse(std::istream& in, std::ostream& out) {
    std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string data = lf_to_crlf(raw);
    framer fr;
    std::string_view rest = data;
    response r;
    std::string line;
    while (!rest.empty()) {
        auto st = fr.feed(rest);
        if (st == framer::status::error) {
            out << "error: " << fr.error().message << "\n";
            return 1;
        }
        if (st == framer::status::need_more) break;
        auto e = parse_response(fr.current(), r);
        if (!e) e = describe_response(r, line);
        if (e) {
            out << "error: " << e.message << "\n";
            return 1;
        }
        out << line << "\n";
    }
    if (fr.mid_response()) {
        out << "error: IMAP: input ends inside a response at offset " << fr.offset() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace mv::imap
