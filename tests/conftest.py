import sys
from pathlib import Path

from hypothesis import settings

# the benchmark suite (package `bench` at the repository root) is tested too; appended, so an
# installed gabalance still comes before the source tree
sys.path.append(str(Path(__file__).resolve().parents[1]))

settings.register_profile("ci", deadline=None, print_blob=True)
settings.load_profile("ci")
