import subprocess
import sys


def test_demo_maps_the_builtin_pair_and_shows_the_ambiguity():
    result = subprocess.run([sys.executable, "-m", "weightbridge", "demo"], capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    assert "params/Block_2/Conv_0/kernel         layers.2.conv1.weight  a b c d -> c d b a  inf" in lines
    assert "params/Head_0/Dense_0/kernel         head.fc.weight         a b -> b a          inf" in lines
    assert "Block_2/Conv_0/kernel equals layers.2.conv1.weight in (kh, kw, i, o): True" in lines
    assert '  hints=[("expand", "conv1")]' in lines
    assert 'With hints=[("reduce", "conv1")]: block6/reduce/w <- conv1: True' in lines
