"""The server's modules sit one directory up; --import-mode=importlib leaves sys.path alone."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
