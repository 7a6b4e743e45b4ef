#!/usr/bin/env python3
"""Writes the search test messages (tests/unit/search_searcher_test.cpp) into this directory.

Real sentences in Vietnamese, Japanese, Chinese, Korean, Arabic, Russian, German and English,
in the charsets and transfer encodings mail really uses, with RFC 2047 subjects. The files are
committed; rerun this script only to change them. Three messages come from the mikel/mail
corpus instead (see NOTICE.md here).
"""
import base64
import os
import quopri
import email.utils

HERE = os.path.dirname(os.path.abspath(__file__))


def subject(text, charset, enc):
    if enc == "8bit":
        return text
    if enc == "B":
        return "=?%s?B?%s?=" % (charset, base64.b64encode(text.encode(charset)).decode("ascii"))
    if enc == "Q":
        raw = text.encode(charset)
        q = "".join(
            chr(b) if (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122) else
            ("_" if b == 32 else "=%02X" % b) for b in raw)
        return "=?%s?Q?%s?=" % (charset, q)
    return h.encode()


def message(name, frm, to, subj, body, charset="utf-8", cte="8bit", senc="B", date=None,
            extra="", attachment=None, msgid=None):
    name_, addr = email.utils.parseaddr(frm)
    lines = [
        "From: " + (subject(name_, charset, senc) + " <" + addr + ">" if senc != "8bit" else frm),
        "To: " + to,
        "Subject: " + subject(subj, charset, senc),
        "Date: " + (date or "Mon, 4 Mar 2024 09:00:00 +0000"),
        "Message-ID: <" + (msgid or name + "@search.test") + ">",
        "MIME-Version: 1.0",
    ]
    if extra:
        lines.append(extra)
    body = body.replace("\r\n", "\n")
    raw = body.encode(charset)
    if cte == "base64":
        payload = base64.encodebytes(raw.replace(b"\n", b"\r\n")).decode("ascii").replace("\n", "\r\n")
    elif cte == "quoted-printable":
        payload = quopri.encodestring(raw).decode("ascii").replace("\n", "\r\n")
    elif cte == "7bit":
        payload = raw.decode("ascii")
    else:
        payload = raw.replace(b"\n", b"\r\n")
    text_headers = ("Content-Type: text/plain; charset=" + charset + "\r\n"
                    "Content-Transfer-Encoding: " + cte + "\r\n\r\n")
    if attachment:
        fname, data = attachment
        b = "=-=boundary=-="
        head = "\r\n".join(lines) + "\r\nContent-Type: multipart/mixed; boundary=\"" + b + "\"\r\n\r\n"
        out = head.encode("ascii") + ("--" + b + "\r\n" + text_headers).encode("ascii")
        out += payload if isinstance(payload, bytes) else payload.encode("ascii")
        out += ("\r\n--" + b + "\r\nContent-Type: application/pdf; name=\"" + fname + "\"\r\n"
                "Content-Disposition: attachment; filename=\"" + fname + "\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n").encode("ascii")
        out += base64.encodebytes(data).replace(b"\n", b"\r\n")
        out += ("--" + b + "--\r\n").encode("ascii")
    else:
        out = ("\r\n".join(lines) + "\r\n" + text_headers).encode("utf-8")
        out += payload if isinstance(payload, bytes) else payload.encode("ascii")
    with open(os.path.join(HERE, name + ".eml"), "wb") as f:
        f.write(out)


# Vietnamese: three messages whose words differ only in diacritics.
message("vi-hanoi", "Nguyễn Văn An <an@example.vn>", "Trần Thị Bình <binh@example.vn>",
        "Cuộc họp ở Hà Nội", "Chúng ta sẽ gặp nhau ở Hà Nội vào thứ Hai tuần sau.\r\n",
        charset="utf-8", cte="quoted-printable", senc="B",
        date="Tue, 5 Mar 2024 08:00:00 +0700")
message("vi-ha", "Lê Minh <minh@example.vn>", "an@example.vn",
        "Giá cả", "Giá vé đã hạ xuống nhiều so với năm ngoái.\r\n",
        charset="windows-1258" if False else "utf-8", cte="base64", senc="Q",
        date="Wed, 6 Mar 2024 10:00:00 +0700")
message("vi-plain", "Tom Ha <tom.ha@example.com>", "an@example.vn",
        "Ha ha, weekend plans", "We could go hiking, ha. Bring your resume too.\r\n",
        charset="us-ascii", cte="7bit", senc="8bit", date="Thu, 7 Mar 2024 12:00:00 +0000")

# German: umlauts in ISO-8859-1, quoted-printable; résumé / resume for folding.
message("de-bericht", "Jörg Müller <joerg@example.de>", "team@example.de",
        "Quartalsbericht für März",
        "Die Zahlen für März liegen vor. Der Umsatz ist gestiegen, die Kosten sind gesunken.\r\n"
        "Bitte prüft die Übersicht bis Freitag.\r\n",
        charset="iso-8859-1", cte="quoted-printable", senc="Q",
        date="Fri, 8 Mar 2024 07:30:00 +0100")
message("de-resume", "Anna Schmidt <anna@example.de>", "jobs@example.com",
        "Bewerbung mit Résumé",
        "Anbei mein Résumé. Ich freue mich auf Ihre Antwort.\r\n",
        charset="utf-8", cte="8bit", senc="B", date="Sat, 9 Mar 2024 09:00:00 +0100",
        attachment=("Lebenslauf_Anna_Schmidt.pdf", b"%PDF-1.4 fake\n"))

# Russian: KOI8-R body, windows-1251 subject.
message("ru-vstrecha", "Иван Петров <ivan@example.ru>", "olga@example.ru",
        "Встреча в понедельник",
        "Привет! Давай встретимся в понедельник в десять часов утра.\r\n",
        charset="koi8-r", cte="8bit", senc="B", date="Sun, 10 Mar 2024 11:00:00 +0300")

# Arabic: windows-1256, base64.
message("ar-taqrir", "أحمد <ahmed@example.sa>", "team@example.sa",
        "التقرير الشهري",
        "مرحبا، أرسل لكم التقرير الشهري للمبيعات.\r\n",
        charset="windows-1256", cte="base64", senc="B", date="Mon, 11 Mar 2024 09:00:00 +0300")

# Chinese: GB2312 and Big5.
message("zh-gb", "王伟 <wang@example.cn>", "li@example.cn",
        "会议通知", "请大家明天上午九点参加项目会议。\r\n",
        charset="gb2312", cte="base64", senc="B", date="Tue, 12 Mar 2024 09:00:00 +0800")
message("zh-big5", "陳小明 <chen@example.tw>", "lin@example.tw",
        "報告", "附件是本季度的財務報告，請查收。\r\n",
        charset="big5", cte="8bit", senc="B", date="Wed, 13 Mar 2024 09:00:00 +0800")

# Japanese: UTF-8 with the example, and EUC-JP.
message("ja-shiryo", "山田太郎 <yamada@example.jp>", "suzuki@example.jp",
        "資料の件", "会議の日本語資料を送ります。よろしくお願いします。\r\n",
        charset="utf-8", cte="base64", senc="B", date="Thu, 14 Mar 2024 09:00:00 +0900")
message("ja-euc", "佐藤 <sato@example.jp>", "suzuki@example.jp",
        "明日の予定", "明日は東京で打ち合わせがあります。\r\n",
        charset="euc-jp", cte="8bit", senc="B", date="Fri, 15 Mar 2024 09:00:00 +0900")

# Korean: EUC-KR.
message("ko-hoeui", "김민수 <kim@example.kr>", "lee@example.kr",
        "회의 일정", "다음 주 회의는 월요일 오후 세 시에 시작합니다.\r\n",
        charset="euc-kr", cte="8bit", senc="B", date="Sat, 16 Mar 2024 09:00:00 +0900")

# English: the failing examples (addresses, version numbers), an emoji, a Bcc.
message("en-perches", "Joe Perches <joe@perches.com>", "linux-kernel@vger.kernel.org",
        "[PATCH] checkpatch: fix 2.6.38-rc4 regression",
        "The regression was introduced in 2.6.38-rc4, see https://lkml.org/lkml/2011/2/14/1\r\n"
        "x86: this also affects the build. Party time 🎉\r\n",
        charset="utf-8", cte="8bit", senc="8bit", date="Mon, 14 Feb 2011 10:00:00 -0800",
        extra="Cc: Andrew Morton <akpm@linux-foundation.org>\r\nBcc: secret-list@example.org")
message("en-other", "Someone Else <someone@perchesfarm.com>", "joe@example.com",
        "Re: perches and other birds", "Birds on perches.com are not the same. Version 2.6.37.\r\n",
        charset="utf-8", cte="8bit", senc="8bit", date="Tue, 15 Feb 2011 10:00:00 +0000")
