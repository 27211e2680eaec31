// Event names of keyspace notifications, as std::string_view constants.
//
// Events are an open set: the parser accepts any non-empty name, and a new server
// version or a module may publish names not listed here. The constants cover the
// reference's EventType list and the names the server's sources publish (notify.c
// callers in t_*.c, db.c, expire.c, evict.c), including hash field expiry and the
// newer key lifecycle events. Names that are C++ keywords take a trailing underscore
// (new_). The reference lists a few names the server never publishes under that name
// (e.g. `setex`: SETEX publishes "set" and "expire"); they are kept for parity and marked.
//
// event::known gives each name the letter of its notify-keyspace-events class;
// event_class() in flags.hpp maps a name to its class flag.
#pragma once

#include <array>
#include <string_view>

namespace ksn::event {

// Generic (g)
inline constexpr std::string_view del = "del";
inline constexpr std::string_view unlink = "unlink";  ///< reference only: UNLINK publishes "del"
inline constexpr std::string_view rename = "rename";  ///< reference only: RENAME publishes rename_*
inline constexpr std::string_view rename_from = "rename_from";
inline constexpr std::string_view rename_to = "rename_to";
inline constexpr std::string_view copy_to = "copy_to";
inline constexpr std::string_view move = "move";  ///< reference only: MOVE publishes move_*
inline constexpr std::string_view move_from = "move_from";
inline constexpr std::string_view move_to = "move_to";
inline constexpr std::string_view restore = "restore";
inline constexpr std::string_view expire = "expire";
inline constexpr std::string_view expireat = "expireat";    ///< reference only
inline constexpr std::string_view pexpire = "pexpire";      ///< reference only
inline constexpr std::string_view pexpireat = "pexpireat";  ///< reference only
inline constexpr std::string_view persist = "persist";
inline constexpr std::string_view sortstore = "sortstore";
inline constexpr std::string_view getdel = "getdel";  ///< reference only: GETDEL publishes "del"
inline constexpr std::string_view getex = "getex";    ///< reference only

// Expired (x), evicted (e)
inline constexpr std::string_view expired = "expired";
inline constexpr std::string_view evicted = "evicted";

// Strings ($)
inline constexpr std::string_view set = "set";
inline constexpr std::string_view setex = "setex";  ///< reference only: SETEX publishes "set"
inline constexpr std::string_view setnx = "setnx";  ///< reference only: SETNX publishes "set"
inline constexpr std::string_view setrange = "setrange";
inline constexpr std::string_view incr = "incr";  ///< reference only: INCR publishes "incrby"
inline constexpr std::string_view incrby = "incrby";
inline constexpr std::string_view incrbyfloat = "incrbyfloat";
inline constexpr std::string_view decr = "decr";      ///< reference only
inline constexpr std::string_view decrby = "decrby";  ///< reference only
inline constexpr std::string_view append = "append";
inline constexpr std::string_view setifgt = "setifgt";  ///< reference list
inline constexpr std::string_view setiflt = "setiflt";  ///< reference list
inline constexpr std::string_view setifeq = "setifeq";  ///< reference list
inline constexpr std::string_view setifne = "setifne";  ///< reference list

// Lists (l)
inline constexpr std::string_view lpush = "lpush";
inline constexpr std::string_view rpush = "rpush";
inline constexpr std::string_view lpop = "lpop";
inline constexpr std::string_view rpop = "rpop";
inline constexpr std::string_view linsert = "linsert";
inline constexpr std::string_view lset = "lset";
inline constexpr std::string_view lrem = "lrem";
inline constexpr std::string_view ltrim = "ltrim";
inline constexpr std::string_view lmove = "lmove";  ///< reference only: LMOVE publishes pops/pushes
inline constexpr std::string_view blpop = "blpop";  ///< reference only
inline constexpr std::string_view brpop = "brpop";  ///< reference only
inline constexpr std::string_view blmove = "blmove";  ///< reference only

// Sets (s)
inline constexpr std::string_view sadd = "sadd";
inline constexpr std::string_view srem = "srem";
inline constexpr std::string_view spop = "spop";
inline constexpr std::string_view smove = "smove";  ///< reference only: SMOVE publishes srem/sadd
inline constexpr std::string_view sinterstore = "sinterstore";
inline constexpr std::string_view sunionstore = "sunionstore";
inline constexpr std::string_view sdiffstore = "sdiffstore";

// Sorted sets (z)
inline constexpr std::string_view zadd = "zadd";
inline constexpr std::string_view zincr = "zincr";
inline constexpr std::string_view zincrby = "zincrby";  ///< reference only: ZINCRBY publishes zincr
inline constexpr std::string_view zrem = "zrem";
inline constexpr std::string_view zremrangebyrank = "zremrangebyrank";
inline constexpr std::string_view zremrangebyscore = "zremrangebyscore";
inline constexpr std::string_view zremrangebylex = "zremrangebylex";
inline constexpr std::string_view zpopmin = "zpopmin";
inline constexpr std::string_view zpopmax = "zpopmax";
inline constexpr std::string_view bzpopmin = "bzpopmin";  ///< reference only
inline constexpr std::string_view bzpopmax = "bzpopmax";  ///< reference only
inline constexpr std::string_view zinterstore = "zinterstore";
inline constexpr std::string_view zunionstore = "zunionstore";
inline constexpr std::string_view zdiffstore = "zdiffstore";
inline constexpr std::string_view zrangestore = "zrangestore";

// Hashes (h); hash field events also reach the subkey channels (S, T, I, V)
inline constexpr std::string_view hset = "hset";
inline constexpr std::string_view hsetnx = "hsetnx";  ///< reference only: HSETNX publishes "hset"
inline constexpr std::string_view hdel = "hdel";
inline constexpr std::string_view hincrby = "hincrby";
inline constexpr std::string_view hincrbyfloat = "hincrbyfloat";
inline constexpr std::string_view hexpire = "hexpire";
inline constexpr std::string_view hexpired = "hexpired";
inline constexpr std::string_view hpersist = "hpersist";

// Streams (t)
inline constexpr std::string_view xadd = "xadd";
inline constexpr std::string_view xtrim = "xtrim";
inline constexpr std::string_view xdel = "xdel";
inline constexpr std::string_view xgroup_create = "xgroup-create";
inline constexpr std::string_view xgroup_createconsumer = "xgroup-createconsumer";
inline constexpr std::string_view xgroup_delconsumer = "xgroup-delconsumer";
inline constexpr std::string_view xgroup_destroy = "xgroup-destroy";
inline constexpr std::string_view xgroup_setid = "xgroup-setid";
inline constexpr std::string_view xsetid = "xsetid";
inline constexpr std::string_view xclaim = "xclaim";          ///< reference list
inline constexpr std::string_view xautoclaim = "xautoclaim";  ///< reference list
inline constexpr std::string_view xreadgroup = "xreadgroup";  ///< reference list

// Key lifecycle, each in its own class outside A
inline constexpr std::string_view new_ = "new";                   ///< n
inline constexpr std::string_view keymiss = "keymiss";            ///< m
inline constexpr std::string_view overwritten = "overwritten";    ///< o
inline constexpr std::string_view type_changed = "type_changed";  ///< c

/// A known event name and the notify-keyspace-events letter of its class ('g', '$',
/// 'l', ...; flags.hpp's event_class() turns it into a notify_flags). A letter, not a
/// flag, so that the names stay below the flags: flags.hpp includes this file.
struct info {
    std::string_view name;
    char class_letter;
};

/// Every constant above with its class, in the order above.
inline constexpr std::array known = {
    info{del, 'g'},
    info{unlink, 'g'},
    info{rename, 'g'},
    info{rename_from, 'g'},
    info{rename_to, 'g'},
    info{copy_to, 'g'},
    info{move, 'g'},
    info{move_from, 'g'},
    info{move_to, 'g'},
    info{restore, 'g'},
    info{expire, 'g'},
    info{expireat, 'g'},
    info{pexpire, 'g'},
    info{pexpireat, 'g'},
    info{persist, 'g'},
    info{sortstore, 'g'},
    info{getdel, 'g'},
    info{getex, 'g'},
    info{expired, 'x'},
    info{evicted, 'e'},
    info{set, '$'},
    info{setex, '$'},
    info{setnx, '$'},
    info{setrange, '$'},
    info{incr, '$'},
    info{incrby, '$'},
    info{incrbyfloat, '$'},
    info{decr, '$'},
    info{decrby, '$'},
    info{append, '$'},
    info{setifgt, '$'},
    info{setiflt, '$'},
    info{setifeq, '$'},
    info{setifne, '$'},
    info{lpush, 'l'},
    info{rpush, 'l'},
    info{lpop, 'l'},
    info{rpop, 'l'},
    info{linsert, 'l'},
    info{lset, 'l'},
    info{lrem, 'l'},
    info{ltrim, 'l'},
    info{lmove, 'l'},
    info{blpop, 'l'},
    info{brpop, 'l'},
    info{blmove, 'l'},
    info{sadd, 's'},
    info{srem, 's'},
    info{spop, 's'},
    info{smove, 's'},
    info{sinterstore, 's'},
    info{sunionstore, 's'},
    info{sdiffstore, 's'},
    info{zadd, 'z'},
    info{zincr, 'z'},
    info{zincrby, 'z'},
    info{zrem, 'z'},
    info{zremrangebyrank, 'z'},
    info{zremrangebyscore, 'z'},
    info{zremrangebylex, 'z'},
    info{zpopmin, 'z'},
    info{zpopmax, 'z'},
    info{bzpopmin, 'z'},
    info{bzpopmax, 'z'},
    info{zinterstore, 'z'},
    info{zunionstore, 'z'},
    info{zdiffstore, 'z'},
    info{zrangestore, 'z'},
    info{hset, 'h'},
    info{hsetnx, 'h'},
    info{hdel, 'h'},
    info{hincrby, 'h'},
    info{hincrbyfloat, 'h'},
    info{hexpire, 'h'},
    info{hexpired, 'h'},
    info{hpersist, 'h'},
    info{xadd, 't'},
    info{xtrim, 't'},
    info{xdel, 't'},
    info{xgroup_create, 't'},
    info{xgroup_createconsumer, 't'},
    info{xgroup_delconsumer, 't'},
    info{xgroup_destroy, 't'},
    info{xgroup_setid, 't'},
    info{xsetid, 't'},
    info{xclaim, 't'},
    info{xautoclaim, 't'},
    info{xreadgroup, 't'},
    info{new_, 'n'},
    info{keymiss, 'm'},
    info{overwritten, 'o'},
    info{type_changed, 'c'},
};

}  // namespace ksn::event
