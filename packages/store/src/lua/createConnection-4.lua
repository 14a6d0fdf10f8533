--[[
  Saves a new connection with its bound pools, unless its name is taken in the project.

  KEYS[1] connection hash   KEYS[2] its pools hash   KEYS[3] project's connections index   KEYS[4] project's names hash
  ARGV[1] id   ARGV[2] name   ARGV[3] created (ms)   ARGV[4] connection fields as JSON {field: value}
  ARGV[5 ..] pairs: pool, per-pool status JSON

  Output: 1 created, or { 'taken', id of the connection with that name }.
]]
--- @include "uniqueName"

local taken = claimName(KEYS[4], ARGV[2], ARGV[1])
if taken then return { 'taken', taken } end
for field, value in pairs(cjson.decode(ARGV[4])) do redis.call('HSET', KEYS[1], field, value) end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 1
