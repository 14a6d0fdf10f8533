--[[
  Included (see scripts.ts) by the scripts on a project's side of its tasks (one hash tag per project), in this order:
  KEYS[1..5] the project's index of tasks per status: Pending, Running, Succeeded, Failed, Canceled
  KEYS[6] its backlog hash (field `total` = items not yet terminal; one field per open task = its share)
  KEYS[7] its ended-times (score = end ms)   KEYS[8] the task's Idempotency-Key (KEYS[6] when there is none)
]]

-- The backlog hash only guards the submission limit; if it ever drifts, it heals within a day of quiet.
local COUNTER_TTL = 86400
local INDEX = { Pending = 1, Running = 2, Succeeded = 3, Failed = 4, Canceled = 5 }
