"""What the team server asks of the engine for a user's lab, built without JupyterHub or a container."""

from pathlib import Path

from labspec import home_owner_spec, home_volume, lab_spec, service_spec
from pyrlab.inside.contract import GPU_LABEL, HOME, HUB_LABEL, SHARED, SWARM_NODE_LABEL, USER_LABEL, WORK


def test_a_lab_runs_as_its_users_uid_with_no_capability_and_its_home() -> None:
    spec = lab_spec(user="alice", uid=20001, home=Path("/srv/homes/alice"), shared="", hub_name="hub-1", gpus=[])
    assert spec.create["user"] == "20001:20001"
    assert spec.create["labels"] == {HUB_LABEL: "hub-1", USER_LABEL: "alice"}
    assert spec.create["healthcheck"] == {"test": ["NONE"]}
    assert spec.host == {"cap_drop": ["ALL"], "security_opt": ["no-new-privileges"], "group_add": ["100"]}
    assert spec.volumes == {"/srv/homes/alice": {"bind": WORK, "mode": "rw"}}
    assert spec.environment == {"HOME": HOME}


def test_the_shared_folder_is_read_only_and_gpus_are_labelled() -> None:
    spec = lab_spec(user="bob", uid=20002, home=Path("/h/bob"), shared="/data", hub_name="hub", gpus=["0", "2"])
    assert spec.volumes["/data"] == {"bind": SHARED, "mode": "ro"}
    assert spec.create["labels"][GPU_LABEL] == "0,2"


def test_on_a_swarm_the_same_lab_goes_only_to_nodes_that_forbid_gaining_privileges() -> None:
    spec = lab_spec(user="alice", uid=20001, home=Path("/srv/homes/alice"), shared="", hub_name="hub-1", gpus=[])
    service = service_spec(spec)
    assert service.container == {
        "user": "20001:20001",
        "labels": {HUB_LABEL: "hub-1", USER_LABEL: "alice"},
        "healthcheck": {"Test": ["NONE"]},
        "cap_drop": ["ALL"],
        "groups": ["100"],
        "mounts": [{"Target": WORK, "Source": "/srv/homes/alice", "Type": "bind", "ReadOnly": False}],
    }
    # no-new-privileges is no option of a service: the node's engine sets it, and says so by its label.
    assert service.placement == {"constraints": [f"engine.labels.{SWARM_NODE_LABEL} == yes"]}
    assert service.labels == {HUB_LABEL: "hub-1", USER_LABEL: "alice"}
    # A GPU node's NVIDIA runtime gives a lab only the GPUs Swarm reserved for it, none without.
    assert service.environment == {"NVIDIA_VISIBLE_DEVICES": "void"}


def test_a_pinned_home_is_a_volume_of_the_account_on_its_node_only() -> None:
    volume = home_volume("alice", 20001)
    assert volume == "pyrlab-home-alice-20001"
    spec = lab_spec(user="alice", uid=20001, home=volume, shared="/data", hub_name="hub-1", gpus=[])
    service = service_spec(spec, node_id="n0de")
    labels = {HUB_LABEL: "hub-1", USER_LABEL: "alice"}
    assert service.container["mounts"] == [
        {"Target": WORK, "Source": volume, "Type": "volume", "VolumeOptions": {"Labels": labels}},
        {"Target": SHARED, "Source": "/data", "Type": "bind", "ReadOnly": True},
    ]
    assert service.placement == {"constraints": [f"engine.labels.{SWARM_NODE_LABEL} == yes", "node.id == n0de"]}


def test_a_new_pinned_home_is_given_to_its_uid_by_a_task_that_may_only_chown() -> None:
    spec = lab_spec(user="alice", uid=20001, home="pyrlab-home-alice-20001", shared="/data", hub_name="h", gpus=[])
    owner = home_owner_spec(spec, 20001)
    assert owner["command"] == ["sh", "-c", f"chmod 700 {WORK} && chown 20001:20001 {WORK}"]
    assert (owner["user"], owner["cap_drop"], owner["cap_add"]) == ("0:0", ["ALL"], ["CHOWN"])
    assert owner["env"] == ["NVIDIA_VISIBLE_DEVICES=void"]
    assert [mount["Source"] for mount in owner["mounts"]] == ["pyrlab-home-alice-20001"]  # not the shared folder
