"""HUB_IMAGES as the team server reads it: one parser for the hub, `make hub` and the cluster."""

import pytest

from pyrlab.inside.contract import ImageChoicesError, image_choices


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
