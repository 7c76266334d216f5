-- :GroundhogSwitch {name}, :GroundhogSwitch (vim.ui.select) and the statusline/events.
local H = require("gh_harness")
H.setup()

H.run(function()
  H.wait_client()
  H.record_events()
  H.request("context/create", { name = "feature-x" })
  H.request("context/update", { context = "feature-x", set = { goal = "ship" } })
  H.result.completion = vim.fn.getcompletion("GroundhogSwitch fea", "cmdline")
  vim.cmd("GroundhogSwitch feature-x")
  H.wait(function()
    return require("groundhog").statusline():match("feature%-x")
  end, "the statusline to show feature-x")
  H.result.after_name = {
    statusline = require("groundhog").statusline(),
    active = H.request("context/status").active,
  }

  local offered
  vim.ui.select = function(items, opts, on_choice)
    offered = vim.tbl_map(opts.format_item, items)
    for _, item in ipairs(items) do
      if item.name == "default" then
        return on_choice(item)
      end
    end
  end
  vim.cmd("GroundhogSwitch")
  H.wait(function()
    return require("groundhog").statusline():match("default")
  end, "the statusline to show default")
  H.result.after_select = {
    statusline = require("groundhog").statusline(),
    active = H.request("context/status").active,
    offered = offered,
  }
end)
