"""Tests of the linmdp study."""
