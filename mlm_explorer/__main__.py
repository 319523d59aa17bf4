from mlm_explorer.cli.main import main

raise SystemExit(main())
