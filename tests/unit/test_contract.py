"""HUB_IMAGES as the team server reads it: one parser for the hub, `make hub` and the cluster."""

from pathlib import Path

import pytest

from pyrlab.inside.contract import SECRET_MAX_BYTES, SWARM_GPU_KIND, ImageChoicesError, image_choices, task_gpus


def test_image_choices_keep_their_order_and_trim_spaces() -> None:
    assert image_choices(" pylab = pylab:latest, rlab=rlab:latest ,") == {
        "pylab": "pylab:latest",
        "rlab": "rlab:latest",
    }
    assert next(iter(image_choices("cuda=pylab:latest-cuda13,pylab=pylab:latest"))) == "cuda"


@pytest.mark.parametrize("text", ["", ",", "pylab", "=pylab:latest", "pylab=", "pylab=pylab:latest,rlab"])
def test_malformed_image_choices_say_how_to_write_them(text: str) -> None:
    with pytest.raises(ImageChoicesError, match=r"HUB_IMAGES=.*e\.g\. HUB_IMAGES=pylab=pylab:latest"):
        image_choices(text)


def test_the_labs_jupyter_reads_secrets_no_larger_than_the_host_writes() -> None:
    """pyrlab-base's Jupyter configuration runs in the image, without the contract: its limit is
    the contract's."""
    config = (Path(__file__).parents[2] / "pyrlab-base" / "jupyter_server_config.py").read_text()
    assert f"\nSECRET_MAX_BYTES = {SECRET_MAX_BYTES}  #" in config


def test_a_swarm_tasks_gpus_are_read_under_either_field_name_and_only_of_the_gpu_kind() -> None:
    gpu = {"NamedResourceSpec": {"Kind": SWARM_GPU_KIND, "Value": "GPU-1"}}
    other = {"NamedResourceSpec": {"Kind": "fpga", "Value": "F-1"}}
    count = {"DiscreteResourceSpec": {"Kind": SWARM_GPU_KIND, "Value": 1}}
    assert task_gpus({"AssignedGenericResources": [gpu, other, count]}) == ["GPU-1"]
    assert task_gpus({"GenericResources": [gpu]}) == ["GPU-1"]
    assert task_gpus({}) == []
