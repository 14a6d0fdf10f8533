--[[
  Creates a load-balancing channel unless its name is taken on this instance.

  KEYS[1] channels hash (id -> JSON)   KEYS[2] names hash (name -> id)
  ARGV[1] id   ARGV[2] name   ARGV[3] channel JSON

  Output: 1 created, or { 'taken', id of the channel with that name }.
]]
--- @include "uniqueName"

local taken = claimName(KEYS[2], ARGV[2], ARGV[1])
if taken then return { 'taken', taken } end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
