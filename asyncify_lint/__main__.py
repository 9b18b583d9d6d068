from asyncify_lint.cli import main

raise SystemExit(main())
