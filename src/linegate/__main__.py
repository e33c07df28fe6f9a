from __future__ import annotations

from linegate.station.cli import main

raise SystemExit(main())
