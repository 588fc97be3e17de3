"""Building an error never fails: conversions refused before, while and after they write, and the command line's own errors."""

import numpy as np
import pytest
from raise_sites import exits_after, raises_at
from safetensors.numpy import save_file

import weightbridge
from weightbridge._cli import main
from weightbridge._convert import convert, write_safetensors
from weightbridge._readers import TensorSignature, save_signature

FLOAT = np.float32


def signatures(shapes, dtype=FLOAT):
    return {name: TensorSignature(shape, dtype) for name, shape in shapes.items()}


@pytest.fixture
def files(tmp_path):
    """their.safetensors and the signature my.json of the same linear layer under other names; map.json maps them."""
    their = {"enc.fc.weight": np.ones((3, 2), FLOAT), "enc.fc.bias": np.ones(3, FLOAT)}
    save_file(their, tmp_path / "their.safetensors")
    my = signatures({"fc.weight": (3, 2), "fc.bias": (3,)})
    save_signature(my, tmp_path / "my.json")
    weightbridge.match(their, my, in_separator=".", out_separator=".").save(tmp_path / "map.json")
    return tmp_path / "their.safetensors", tmp_path / "my.json"


# What convert is asked to do


def test_convert_needs_an_output():
    with raises_at("weightbridge._convert", "convert", ValueError) as error:
        convert("their.safetensors", "my.json")
    assert str(error.value) == "convert needs an output path (out=)"


def test_convert_needs_a_target_or_a_mapping():
    with raises_at("weightbridge._convert", "convert", ValueError) as error:
        convert("their.safetensors", out="out.safetensors")
    assert str(error.value) == "convert needs the target (like=) or a saved mapping (mapping=)"


def test_an_output_of_an_unknown_kind_lists_the_kinds_written(tmp_path):
    with raises_at("weightbridge._convert", "output_kind", ValueError) as error:
        convert("their.safetensors", "my.json", tmp_path / "out.txt")
    assert str(error.value) == (
        f"{tmp_path}/out.txt: unknown output kind '.txt'; name a .safetensors, .pt, .bin, .npz or .msgpack file, "
        "or a folder (sharded safetensors)")


def test_an_output_folder_that_is_a_file_is_refused_before_matching(files, tmp_path):
    out = tmp_path / "converted"
    out.write_text("")
    with raises_at("weightbridge._convert", "check_output", ValueError) as error:
        convert(*files, out)
    assert str(error.value) == f"{out}: exists and is not a folder; name a file with a known extension or a folder"


def test_an_output_file_that_is_a_folder_is_refused_before_matching(files, tmp_path):
    out = tmp_path / "out.safetensors"
    out.mkdir()
    with raises_at("weightbridge._convert", "check_output", ValueError) as error:
        convert(*files, out)
    assert str(error.value) == f"{out}: is a folder; name a file or a new path"


def test_a_dtype_the_output_format_cannot_store_is_named_before_matching(files, tmp_path):
    save_signature(signatures({"fc.weight": (3, 2), "fc.bias": (3,)}, np.complex128), tmp_path / "complex.json")
    with raises_at("weightbridge._convert", "check_output", ValueError) as error:
        convert(files[0], tmp_path / "complex.json", tmp_path / "converted")
    assert str(error.value) == f"{tmp_path}/converted: a safetensors file cannot store dtype complex128; choose another output format"


def test_an_output_in_a_missing_folder_is_refused_before_matching(files, tmp_path):
    with raises_at("weightbridge._convert", "check_writable_folder", ValueError) as error:
        convert(*files, tmp_path / "missing" / "out.safetensors")
    assert str(error.value) == f"{tmp_path}/missing: output folder does not exist"


def test_an_output_folder_that_refuses_new_files_is_named(files):
    # sysfs refuses new files even to root, which permission bits would not stop.
    with raises_at("weightbridge._convert", "check_writable_folder", ValueError) as error:
        convert(*files, "/sys/out.safetensors")
    assert str(error.value) == "/sys: cannot write in this folder (Permission denied)"


# What THEIR holds


def test_a_key_that_is_no_top_level_entry_lists_the_entries(files, tmp_path):
    with raises_at("weightbridge._convert", "select_key", ValueError) as error:
        convert(*files, tmp_path / "out.safetensors", key="model")
    assert str(error.value) == "THEIR has no entry 'model'; its top-level entries are 'enc'"


def test_a_training_checkpoint_proposes_the_key_of_its_weights(files, tmp_path):
    training = {"model.fc.weight": np.ones((3, 2), FLOAT), "optimizer.state.0.exp_avg": np.ones(3, FLOAT)}
    save_file(training, tmp_path / "training.safetensors")
    with raises_at("weightbridge._convert", "check_not_training_checkpoint", ValueError) as error:
        convert(tmp_path / "training.safetensors", files[1], tmp_path / "out.safetensors")
    assert str(error.value) == (
        "THEIR looks like a training checkpoint (top-level entries 'model', 'optimizer'); "
        "pass key='model' to take the weights under 'model'")


# Saved mappings


def test_a_missing_mapping_file_is_named(files, tmp_path):
    with raises_at("weightbridge._convert", "load_mapping", ValueError) as error:
        convert(files[0], mapping=tmp_path / "nothing.json", out=tmp_path / "out.safetensors")
    assert str(error.value) == f"{tmp_path}/nothing.json: no such mapping file"


def test_a_file_that_is_not_a_mapping_says_why(files, tmp_path):
    with raises_at("weightbridge._convert", "load_mapping", ValueError) as error:
        convert(files[0], mapping=files[1], out=tmp_path / "out.safetensors")
    assert str(error.value) == f"{files[1]}: not a weightbridge mapping file (not a weightbridge mapping file of version 1)"


def test_a_mapping_applied_to_a_checkpoint_without_its_weights_names_the_first_missing(files, tmp_path):
    save_file({"enc.fc.weight": np.ones((3, 2), FLOAT)}, tmp_path / "other.safetensors")
    with raises_at("weightbridge._convert", "_check_mapping_fits", ValueError) as error:
        convert(tmp_path / "other.safetensors", mapping=tmp_path / "map.json", out=tmp_path / "out.safetensors")
    assert str(error.value) == (
        "THEIR lacks 'enc.fc.bias', which the mapping takes for 'fc.bias'; the mapping was made for another checkpoint")


def test_a_mapping_applied_to_weights_of_another_dtype_names_the_weight(files, tmp_path):
    save_file({"enc.fc.weight": np.ones((3, 2), np.float16), "enc.fc.bias": np.ones(3, FLOAT)}, tmp_path / "half.safetensors")
    with raises_at("weightbridge._convert", "_check_mapping_fits", ValueError) as error:
        convert(tmp_path / "half.safetensors", mapping=tmp_path / "map.json", out=tmp_path / "out.safetensors")
    assert str(error.value) == "THEIR 'enc.fc.weight' is float16[3, 2], the mapping was made for float32[3, 2]"


# Writing safetensors


def test_a_target_dtype_safetensors_cannot_store_names_the_tensor(tmp_path):
    with raises_at("weightbridge._convert", "write_safetensors", ValueError) as error:
        write_safetensors([], signatures({"freqs": (2,)}, np.complex128), tmp_path / "out.safetensors")
    assert str(error.value) == "tensor 'freqs': safetensors cannot store dtype complex128"


def test_an_output_folder_that_is_a_file_is_refused_when_writing(tmp_path):
    out = tmp_path / "converted"
    out.write_text("")
    with raises_at("weightbridge._convert", "_Staging.__init__", ValueError) as error:
        write_safetensors([], signatures({"fc.bias": (3,)}), out)
    assert str(error.value) == f"{out}: exists and is not a folder; name a .safetensors file or a folder"


def test_an_output_in_a_missing_folder_is_refused_when_writing(tmp_path):
    with raises_at("weightbridge._convert", "_Staging.__init__", ValueError) as error:
        write_safetensors([], signatures({"fc.bias": (3,)}), tmp_path / "missing" / "out.safetensors")
    assert str(error.value) == f"{tmp_path}/missing: output folder does not exist"


@pytest.mark.parametrize("names, message", [
    (["fc.bias", "fc.bias"], "tensor 'fc.bias' is written twice"),
    (["fc.scale"], "tensor 'fc.scale' is not in the target"),
])
def test_a_tensor_the_target_does_not_expect_is_named(tmp_path, names, message):
    with raises_at("weightbridge._convert", "_checked", ValueError) as error:
        write_safetensors([(name, np.ones(3, FLOAT)) for name in names], signatures({"fc.bias": (3,)}), tmp_path / "out.safetensors")
    assert str(error.value) == message
    assert list(tmp_path.iterdir()) == []


def test_a_tensor_of_another_shape_than_the_target_names_both(tmp_path):
    with raises_at("weightbridge._convert", "_checked", ValueError) as error:
        write_safetensors([("fc.bias", np.ones(4, np.float16))], signatures({"fc.bias": (3,)}), tmp_path / "out.safetensors")
    assert str(error.value) == "tensor 'fc.bias' is float16[4], the target wants float32[3]"


def test_tensors_never_produced_are_named_five_at_most(tmp_path):
    like = signatures({f"blocks.{k}.bias": (3,) for k in range(7)})
    with raises_at("weightbridge._convert", "_checked", ValueError) as error:
        write_safetensors([], like, tmp_path / "out.safetensors")
    assert str(error.value) == (
        "no tensor was produced for 'blocks.0.bias', 'blocks.1.bias', 'blocks.2.bias', 'blocks.3.bias', 'blocks.4.bias' "
        "and 2 more")


# The command line


def test_a_shard_size_without_a_known_unit_is_refused_before_reading(capsys):
    with exits_after("weightbridge._convert", "parse_size", ValueError):
        main(["convert", "their.safetensors", "--like", "my.json", "-o", "out", "--max-shard-size", "5 parsecs"])
    assert capsys.readouterr().err == (
        "weightbridge convert: error: size '5 parsecs' is not understood; write it like 5GB, 500MB or 2GiB\n")


def test_match_refuses_to_save_the_mapping_over_a_folder(files, tmp_path, capsys):
    with exits_after("weightbridge._cli", "_check_writable", ValueError):
        main(["match", *map(str, files), "-o", str(tmp_path)])
    assert capsys.readouterr().err == f"weightbridge match: error: {tmp_path}: is a folder; name a file\n"


def test_match_names_a_weight_to_explain_that_was_not_matched(files, capsys):
    with exits_after("weightbridge._cli", "_match", ValueError):
        main(["match", *map(str, files), "--explain", "fc.scale"])
    assert capsys.readouterr().err == "weightbridge match: error: MY has no matched weight 'fc.scale'\n"
