-- What the user is told for failures that cannot be staged on this machine, from the words
-- pip and venv print for them.
local H = require("gh_harness")

H.run(function(params)
  local install = require("groundhog.install")
  H.result.explained = {}
  for name, output in pairs(params.outputs) do
    local result = { code = 1, signal = 0, stdout = "", stderr = output }
    H.result.explained[name] = install.explain_failure("pip install", result)
  end
end)
