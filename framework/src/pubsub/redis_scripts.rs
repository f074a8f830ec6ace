//! The Redis data layout and the Lua scripts that change it atomically.
//!
//! For key prefix `P` and room `R` (the `{R}` hash tag keeps a room's keys
//! in one Redis Cluster slot):
//!
//! | key | type | content |
//! |---|---|---|
//! | `P:{R}:members` | hash | member name → server id |
//! | `P:{R}:servers` | sorted set | server id, scored by its presence deadline (ms, Redis clock) |
//! | `P:{R}:events` | pub/sub channel | frames (see `wire.rs`): messages, joins, leaves, expiries |
//!
//! Deadlines use Redis's own `TIME`, so server clocks need not agree. Every
//! script that finds a server past its deadline reaps it: removes its members
//! from the hash and publishes an `X` (expired) frame for each, in the same
//! atomic step, so exactly one live server announces each expiry. Both keys
//! get a `PEXPIRE` of four TTLs on every heartbeat, so a room whose servers
//! all died disappears from Redis by itself.

use redis::Script;

/// The names of one room's keys.
#[derive(Debug)]
pub(crate) struct Keys {
    pub(crate) members: String,
    pub(crate) servers: String,
    pub(crate) channel: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str, room: &str) -> Self {
        Keys {
            members: format!("{prefix}:{{{room}}}:members"),
            servers: format!("{prefix}:{{{room}}}:servers"),
            channel: format!("{prefix}:{{{room}}}:events"),
        }
    }
}

/// Shared by every script. KEYS: members, servers, channel.
const PRELUDE: &str = r#"
if redis.replicate_commands then redis.replicate_commands() end
local function enc(kind, origin, name)
  return '\161' .. kind
    .. string.char(math.floor(#origin / 256), #origin % 256) .. origin
    .. string.char(math.floor(#name / 256), #name % 256) .. name
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function is_alive(server, now)
  local score = redis.call('ZSCORE', KEYS[2], server)
  return score ~= false and score ~= nil and tonumber(score) >= now
end
-- Frees the names of every server past its deadline (or with no heartbeat at
-- all, when `full`), announcing each as expired.
local function reap(now, full)
  local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', string.format('(%d', now))
  if #dead == 0 and not full then return 0 end
  local alive = {}
  for _, s in ipairs(dead) do
    alive[s] = false
    redis.call('ZREM', KEYS[2], s)
  end
  local all = redis.call('HGETALL', KEYS[1])
  local n = 0
  for i = 1, #all, 2 do
    local name, owner = all[i], all[i + 1]
    local ok = alive[owner]
    if ok == nil then
      ok = is_alive(owner, now)
      alive[owner] = ok
    end
    if not ok then
      redis.call('HDEL', KEYS[1], name)
      redis.call('PUBLISH', KEYS[3], enc('X', owner, name))
      n = n + 1
    end
  end
  return n
end
local function register(me, ttl, now)
  redis.call('ZADD', KEYS[2], string.format('%d', now + ttl), me)
end
"#;

/// ARGV: server id, ttl ms, full reap (0/1), key ttl ms.
/// Returns 1 if this server was alive before the call, 0 if it had expired
/// (or Redis lost it) and must claim its members again.
const HEARTBEAT: &str = r#"
local me, ttl = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local was_alive = is_alive(me, now)
register(me, ttl, now)
reap(now, ARGV[3] == '1')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
if was_alive then return 1 else return 0 end
"#;

/// ARGV: server id, ttl ms, names…
/// Reserves each free name for this server and announces it; returns the
/// names held by another live server.
const CLAIM: &str = r#"
local me, ttl = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
if not is_alive(me, now) then register(me, ttl, now) end
local reaped = false
local taken = {}
for i = 3, #ARGV do
  local name = ARGV[i]
  local owner = redis.call('HGET', KEYS[1], name)
  if owner and owner ~= me and not reaped and not is_alive(owner, now) then
    reap(now, true)
    reaped = true
    owner = redis.call('HGET', KEYS[1], name)
  end
  if not owner then
    redis.call('HSET', KEYS[1], name, me)
    redis.call('PUBLISH', KEYS[3], enc('J', me, name))
  elseif owner ~= me then
    taken[#taken + 1] = name
  end
end
return taken
"#;

/// ARGV: server id, names…
/// Frees each name this server holds and announces the leave.
const RELEASE: &str = r#"
local me = ARGV[1]
local n = 0
for i = 2, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == me then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('PUBLISH', KEYS[3], enc('L', me, ARGV[i]))
    n = n + 1
  end
end
return n
"#;

/// ARGV: server id. Frees every name this server holds, announces each leave,
/// and removes its heartbeat.
const UNREGISTER: &str = r#"
local me = ARGV[1]
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i + 1] == me then
    redis.call('HDEL', KEYS[1], all[i])
    redis.call('PUBLISH', KEYS[3], enc('L', me, all[i]))
  end
end
redis.call('ZREM', KEYS[2], me)
return 1
"#;

/// The scripts, with their SHA1s computed once.
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) heartbeat: Script,
    pub(crate) claim: Script,
    pub(crate) release: Script,
    pub(crate) unregister: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        let script = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Scripts {
            heartbeat: script(HEARTBEAT),
            claim: script(CLAIM),
            release: script(RELEASE),
            unregister: script(UNREGISTER),
        }
    }

    pub(crate) fn all(&self) -> [&Script; 4] {
        [
            &self.heartbeat,
            &self.claim,
            &self.release,
            &self.unregister,
        ]
    }
}
