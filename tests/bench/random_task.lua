-- wrk -s tests/bench/random_task.lua: GET /api/v1/tasks/{id} with a random id
-- in [TASK_ID_MIN, TASK_ID_MAX] (environment; tests/bench/ledger.sh sets them).
local lo = tonumber(os.getenv("TASK_ID_MIN") or "1")
local hi = tonumber(os.getenv("TASK_ID_MAX") or "100000")
local non200 = 0

function init(args)
	math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
	return wrk.format("GET", "/api/v1/tasks/" .. math.random(lo, hi))
end

function response(status, headers, body)
	if status ~= 200 then
		non200 = non200 + 1
	end
end
