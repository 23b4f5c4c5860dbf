// serve tests: written below
