"""``python -m veriframe._cli``."""

from veriframe._cli import main

raise SystemExit(main())
