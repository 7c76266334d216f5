-- doc/groundhog.txt builds with :helptags (no duplicate tags) and :help finds its topics.
local H = require("gh_harness")

H.run(function(p)
  vim.cmd("helptags " .. vim.fn.fnameescape(p.doc_dir))
  vim.opt.runtimepath:prepend(vim.fs.dirname(p.doc_dir))
  H.result.tags = vim.fn.readfile(p.doc_dir .. "/tags")
  vim.cmd("help :GroundhogDiff")
  H.result.help_line = vim.api.nvim_get_current_line()
end)
