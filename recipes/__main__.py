import sys

from recipes._cli import main

sys.exit(main())
