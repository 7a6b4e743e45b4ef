#pragma once
#include <string_view>
#include <vector>

namespace mv::archive {

struct migration {
    int version;           // from the file name: schema/0001_initial.sql -> 1
    std::string_view name;
    std::string_view sql;  // applied in one transaction, then PRAGMA user_version = version
};

// All migrations from schema/, in version order.
const std::vector<migration>& embedded_migrations();

}  // namespace mv::archive
