/* Feast dtype names <-> ValueType numbers (feast-compat.md §3.7, SDK/types.py). */
#include "feast/feast.h"

#include <string.h>

struct dtype_name { int vtype; const char *name; };

static const struct dtype_name scalars[] = {
    {FEAST_VT_BYTES, "Bytes"},   {FEAST_VT_STRING, "String"},  {FEAST_VT_INT32, "Int32"},
    {FEAST_VT_INT64, "Int64"},   {FEAST_VT_DOUBLE, "Float64"}, {FEAST_VT_FLOAT, "Float32"},
    {FEAST_VT_BOOL, "Bool"},     {FEAST_VT_UNIX_TIMESTAMP, "UnixTimestamp"},
    {FEAST_VT_JSON, "Json"},
};

static const struct dtype_name lists[] = {
    {FEAST_VT_BYTES_LIST, "Bytes"},   {FEAST_VT_STRING_LIST, "String"},
    {FEAST_VT_INT32_LIST, "Int32"},   {FEAST_VT_INT64_LIST, "Int64"},
    {FEAST_VT_DOUBLE_LIST, "Float64"}, {FEAST_VT_FLOAT_LIST, "Float32"},
    {FEAST_VT_BOOL_LIST, "Bool"},     {FEAST_VT_UNIX_TIMESTAMP_LIST, "UnixTimestamp"},
    {FEAST_VT_JSON_LIST, "Json"},
};

int feast_dtype_parse(const char *name)
{
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
        if (strcmp(name, scalars[i].name) == 0)
            return scalars[i].vtype;
    /* Array(X) and List(X), with optional spaces inside the parentheses. */
    size_t n = strlen(name);
    const char *inner = NULL;
    if (strncmp(name, "Array(", 6) == 0)
        inner = name + 6;
    else if (strncmp(name, "List(", 5) == 0)
        inner = name + 5;
    if (!inner || n < 2 || name[n - 1] != ')')
        return FEAST_VT_INVALID;
    while (*inner == ' ')
        inner++;
    size_t len = (size_t)(name + n - 1 - inner);
    while (len && inner[len - 1] == ' ')
        len--;
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        if (strlen(lists[i].name) == len && strncmp(inner, lists[i].name, len) == 0)
            return lists[i].vtype;
    return FEAST_VT_INVALID;
}

const char *feast_dtype_name(int vtype)
{
    static const char *const list_names[] = {
        [FEAST_VT_BYTES_LIST] = "Array(Bytes)",   [FEAST_VT_STRING_LIST] = "Array(String)",
        [FEAST_VT_INT32_LIST] = "Array(Int32)",   [FEAST_VT_INT64_LIST] = "Array(Int64)",
        [FEAST_VT_DOUBLE_LIST] = "Array(Float64)", [FEAST_VT_FLOAT_LIST] = "Array(Float32)",
        [FEAST_VT_BOOL_LIST] = "Array(Bool)",     [FEAST_VT_UNIX_TIMESTAMP_LIST] = "Array(UnixTimestamp)",
        [FEAST_VT_JSON_LIST] = "Array(Json)",
    };
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
        if (scalars[i].vtype == vtype)
            return scalars[i].name;
    if (vtype > 0 && (size_t)vtype < sizeof list_names / sizeof list_names[0] && list_names[vtype])
        return list_names[vtype];
    if (vtype == FEAST_VT_MAP)
        return "Map";
    return "Invalid";
}

bool feast_vtype_is_list(int vtype) { return feast_vtype_list_elem(vtype) != FEAST_VT_INVALID; }

int feast_vtype_list_elem(int vtype)
{
    switch (vtype) {
    case FEAST_VT_BYTES_LIST: return FEAST_VT_BYTES;
    case FEAST_VT_STRING_LIST: return FEAST_VT_STRING;
    case FEAST_VT_INT32_LIST: return FEAST_VT_INT32;
    case FEAST_VT_INT64_LIST: return FEAST_VT_INT64;
    case FEAST_VT_DOUBLE_LIST: return FEAST_VT_DOUBLE;
    case FEAST_VT_FLOAT_LIST: return FEAST_VT_FLOAT;
    case FEAST_VT_BOOL_LIST: return FEAST_VT_BOOL;
    case FEAST_VT_UNIX_TIMESTAMP_LIST: return FEAST_VT_UNIX_TIMESTAMP;
    case FEAST_VT_JSON_LIST: return FEAST_VT_JSON;
    default: return FEAST_VT_INVALID;
    }
}

bool feast_vtype_is_entity_key(int vtype)
{
    return vtype == FEAST_VT_STRING || vtype == FEAST_VT_BYTES || vtype == FEAST_VT_INT32 ||
           vtype == FEAST_VT_INT64 || vtype == FEAST_VT_UNIX_TIMESTAMP;
}
