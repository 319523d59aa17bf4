from mlm_explorer.cli import main

raise SystemExit(main())
