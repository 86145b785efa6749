import pytest

from mlmd_parsl.config import load_site_config
from mlmd_parsl.errors import ConfigError


def write(tmp_path, text, name="site.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_local_site_loads_with_the_seed_training_settings():
    site = load_site_config("local")
    assert site.name == "local" and site.provider.kind == "local"
    assert site.training.spec.batch_size == 128 and site.training.spec.max_batch_size == 128
    assert site.training.spec.termination_patience == 50
    assert site.md.engine == "embedded" and site.md.profile == "quick"
    assert len(site.md.zreps) >= 3 and set(site.md.ranks) == {1, 2}
    assert site.dataset.path is None  # synthetic default


def test_override_changes_a_value_without_editing_the_file():
    site = load_site_config("local", ["md.zreps=[1,2]", "training.max_epochs=3", "dataset.synthetic.seed=7"])
    assert site.md.zreps == (1, 2) and site.training.spec.max_epochs == 3 and site.dataset.synthetic.seed == 7


def test_unknown_key_names_file_line_and_allowed_keys(tmp_path):
    path = write(tmp_path, "name: x\nmd:\n  profile: quick\n  zrep: [2]\n")
    with pytest.raises(ConfigError) as err:
        load_site_config(path)
    message = str(err.value)
    assert f"{path}:4: md.zrep: unknown key" in message and "zreps" in message and "ranks" in message


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, "name: x\nprovidr: {}\n")
    with pytest.raises(ConfigError, match=r":2: providr: unknown key \(did you mean provider\?\); "
                                         r"allowed keys: name, divisions, provider"):
        load_site_config(path)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "name: x\nmd:\n  zreps: [2, 4\n  ranks: [1]\n")
    with pytest.raises(ConfigError, match=r"site.yaml:\d+: YAML syntax error"):
        load_site_config(path)


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("training.max_epochs=many", "training.max_epochs: expected an integer, got 'many'"),
        ("md.zreps=[0, 2]", "md.zreps: [0, 2]: every entry must be an integer >= 1"),
        ("md.ranks=[-1]", "md.ranks: [-1]: every entry must be an integer >= 1"),
        ("md.ranks=[1, 8]", "md.ranks: 8 ranks, but provider.cores_per_node is 2"),
        ("md.profile=fast", "md.profile: 'fast'; allowed: ats5, quick"),
        ("md.engine=gromacs", "md.engine: 'gromacs'; allowed: embedded, mliap"),
        ("md.kokkos=true", "md.kokkos: Kokkos applies to the site engine only"),
        ("md.kokkos=yes please", "md.kokkos: expected true or false, got 'yes please'"),
        ("md.kokkos_package=neigh half", "md.kokkos_package: 'neigh half': pair_style mliap needs 'newton on'"),
        ("md.kokkos_package=newton on neigh half", "md.kokkos_package: Kokkos options need md.kokkos: true"),
        ("md.kokkos_package=newton on nieghbor half", "unknown package kokkos keyword 'nieghbor'"),
        ("md.mliap_model=torchscript", "md.mliap_model: 'torchscript'; allowed: hippynn, lean"),
        ("md.mliap_model=lean",
         "md.mliap_model: lean: the exported model for pair_style mliap applies to the site engine only"),
        ("md.min_timesteps_per_s=0", "md.min_timesteps_per_s: 0.0: steps per second, above 0"),
        ("name=a b", "name: 'a b': letters, digits and _ . - only"),
        ("md.mliap_presize=sometimes", "md.mliap_presize: 'sometimes'; allowed: auto, always, never"),
        ("md.mliap_presize=always", "md.mliap_presize: always: presizing ML-IAP's pair arrays applies to the site"),
        ("md.model_device=gpu0", "md.model_device: 'gpu0'; allowed: cpu, cuda, cuda:N"),
        ("md.zreps=4", "md.zreps: expected a non-empty list, got 4"),
        ("dataset.synthetic.frames=3", "need at least 20 frames"),
        ("dataset.md5=abc", "dataset.md5: 'abc'; allowed: auto, none, or an MD5 digest (32 hexadecimal digits)"),
        ("dataset.synthetic.oracle=lj", "dataset.synthetic.oracle: 'lj'; allowed: ag_u3_short, ag_u3"),
        ("provider.kind=pbs", "provider.kind: 'pbs'; allowed: local, slurm"),
        ("provider.walltime=2h", "provider.walltime: '2h'; expected HH:MM:SS"),
        ("provider.partition=gpu;rm -rf", "provider.partition: 'gpu;rm -rf': only letters, digits"),
        ("provider.mpi_launcher=srun", "a local site launches MPI with mpiexec"),
        ("provider.launcher_options=--hint=x; rm -rf ~",
         "provider.launcher_options: '--hint=x; rm -rf ~': launcher flags only"),
        ("provider.scheduler_options=echo hi",
         "provider.scheduler_options: 'echo hi': every line must be an '#SBATCH ...'"),
        ("provider.mpi_launcher=aprun", "provider.mpi_launcher: 'aprun'; allowed: mpiexec, srun"),
        ("provider.cores_per_node=0", "provider.cores_per_node: 0 must be >= 1"),
        ("md.model_device=cuda", "md.model_device: 'cuda', but provider.gpus_per_node is 0 (a CPU site)"),
        ("training.device=cuda:0", "training.device: 'cuda:0', but provider.gpus_per_node is 0"),
        ("training.custom_kernels=fast", "training.custom_kernels: 'fast'; allowed:"),
        ("md.nosuch=1", "md.nosuch: unknown key; allowed keys: engine, profile"),
        ("md.zreps", "expected KEY.PATH=VALUE"),
        ("validation.replicate=[2, 2]", "validation.replicate: [2, 2]: three integers >= 1"),
        ("validation.md_5fs_replicate=[2, 0, 8]", "validation.md_5fs_replicate: [2, 0, 8]: three integers >= 1"),
        ("validation.rank_counts=[1, 0]", "validation.rank_counts: [1, 0]: every entry must be an integer >= 1"),
        ("validation.oracle_steps=55", "validation.oracle_steps: 55 must be a multiple of 10"),
        ("validation.enabled=maybe", "validation.enabled: expected true or false, got 'maybe'"),
        ("validation.nve_steps=0", "validation.nve_steps: 0 must be >= 1"),
        ("training.learning_rate=fast", "training.learning_rate: expected a number, got 'fast'"),
        ("training.trainer=turbo", "training.trainer: 'turbo'; allowed: hippynn, lean"),
        ("training.dist_soft_min=4", "training.dist_soft_min: 4.0: Angstrom, from 1.0 to below dist_soft_max 3.75"),
        ("dataset.synthetic.close_pair_fraction=0.9", "dataset.synthetic.close_pair_fraction: 0.9: allowed 0 to 0.5"),
        ("dataset.synthetic.close_pairs_per_frame=0", "dataset.synthetic.close_pairs_per_frame: 0: allowed 1 to 10"),
        ("validation.oracle_timestep_fs=0", "validation.oracle_timestep_fs: 0.0 must be > 0 (fs)"),
    ],
)
def test_bad_values_are_named(override, fragment):
    with pytest.raises(ConfigError) as err:
        load_site_config("local", [override])
    assert fragment in str(err.value)


def test_unencrypted_parsl_traffic_is_refused_where_the_cluster_can_reach_it():
    assert not load_site_config("local", ["provider.encrypted=false"]).provider.encrypted  # loopback only
    with pytest.raises(ConfigError, match="provider.encrypted: false on a Slurm site: its interchanges listen on"):
        load_site_config("crossroads", ["provider.encrypted=false"])
    assert not load_site_config("localslurm", ["provider.encrypted=false", "provider.interface=lo"]).provider.encrypted


def test_unknown_site_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown site 'atlantis'; known sites: .*local"):
        load_site_config("atlantis")


def test_weak_scaling_beyond_a_block_of_nodes_is_named():
    with pytest.raises(ConfigError, match=r"md.weak_scaling.nodes: 4 nodes, but a block of the MPI executor has 3 "
                                          r"\(provider.nodes_per_block\)"):
        load_site_config("chicoma", ["md.weak_scaling.nodes=[1,4]"])


def test_weak_scaling_block_and_layout_are_checked():
    with pytest.raises(ConfigError, match=r"md.weak_scaling.block: \[25, 24\]: three replicas, X Y Z"):
        load_site_config("chicoma", ["md.weak_scaling.block=[25, 24]"])
    with pytest.raises(ConfigError, match=r"md.weak_scaling.layout: 'slab'; allowed: block, rod"):
        load_site_config("chicoma", ["md.weak_scaling.layout=slab"])


def test_weak_scaling_unknown_key_lists_allowed():
    with pytest.raises(ConfigError, match=r"md.weak_scaling.ranks: unknown key; allowed keys: nodes, block, layout, "
                                          r"zrep_per_rank"):
        load_site_config("chicoma", ["md.weak_scaling.ranks=[1, 2]"])


def test_divisions_are_seed_and_ours_in_the_seeds_order_and_nothing_else():
    from mlmd_parsl.science.choices import Division

    assert load_site_config("chicoma").divisions == (Division.SEED,)
    assert load_site_config("local").divisions == (Division.OURS,)
    assert load_site_config("local", ["divisions=[ours, seed]"]).divisions == (Division.SEED, Division.OURS)
    for bad in ("divisions=[closed]", "divisions=[seed, seed]"):
        with pytest.raises(ConfigError, match=r"--set divisions=.*: divisions: .*; allowed: one or both of seed, ours"):
            load_site_config("local", [bad])


def test_each_section_checks_its_own_values_and_the_file_error_names_the_line(tmp_path):
    from mlmd_parsl.config import InvalidSetting, MDConfig, RetryConfig, WeakScalingConfig

    with pytest.raises(InvalidSetting, match=r"^engine: 'gromacs'; allowed: embedded, mliap$"):
        MDConfig(engine="gromacs")
    with pytest.raises(InvalidSetting, match=r"^nodes: \[2, 0\]: every entry must be an integer >= 1$"):
        WeakScalingConfig(nodes=(2, 0))
    with pytest.raises(InvalidSetting, match=r"^md: 11; allowed: 0 to 10$"):
        RetryConfig(md=11)
    site = tmp_path / "site.yaml"
    site.write_text("name: s\nmd:\n  zreps: [2]\n  engine: gromacs\n")
    with pytest.raises(ConfigError, match=r"site\.yaml:4: md\.engine: 'gromacs'; allowed: embedded, mliap$"):
        load_site_config(str(site))
    site.write_text("name: s\nmd:\n  weak_scaling:\n    zrep_per_rank: 1\n    nodes: [1, 0]\n")
    with pytest.raises(ConfigError, match=r"site\.yaml:5: md\.weak_scaling\.nodes: \[1, 0\]: every entry"):
        load_site_config(str(site))


def test_switching_a_gpu_site_to_the_embedded_engine_takes_the_flags_its_file_documents():
    """chicoma.yaml (and the README) tell users how to switch engine: those flags must load."""
    import re

    from mlmd_parsl.config import site_config_path

    documented = re.search(r"(--set md\.engine=embedded.*?)\.?$", site_config_path("chicoma").read_text(), re.M)
    flags = [flag.rstrip(".") for flag in re.findall(r"--set (\S+)", documented.group(1))]
    assert load_site_config("chicoma", flags).md.engine == "embedded"
    with pytest.raises(ConfigError, match=r"md.mliap_model: lean: .*--set md.mliap_model=hippynn"):
        load_site_config("chicoma", ["md.engine=embedded", "md.kokkos=false"])


def test_a_bad_override_is_named_by_its_set_not_by_the_line_it_replaces():
    with pytest.raises(ConfigError) as err:
        load_site_config("local", ["md.zreps=[0]"])  # local.yaml has md.zreps on a line of its own
    message = str(err.value)
    assert message.startswith("--set md.zreps=[0]: md.zreps: [0]:") and "local.yaml" not in message


def test_an_unknown_key_suggests_the_close_one():
    with pytest.raises(ConfigError) as err:
        load_site_config("local", ["md.zrep=[2]"])
    assert "--set md.zrep=[2]: md.zrep: unknown key (did you mean md.zreps?); allowed keys: engine" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_site_config("local", ["mdd.engine=mliap"])
    assert "--set mdd.engine=mliap: mdd: unknown key (did you mean md?)" in str(err.value)


def test_the_science_specs_check_themselves_when_a_library_user_makes_them():
    from mlmd_parsl.science.model.dataset import SyntheticSpec
    from mlmd_parsl.science.model.training import TrainingSpec
    from mlmd_parsl.science.spec_checks import InvalidSetting
    from mlmd_parsl.science.validation.spec import ValidationSpec

    for make, key, fragment in ((lambda: TrainingSpec(trainer="fast"), "trainer", "'fast'; allowed: hippynn, lean"),
                                (lambda: TrainingSpec(max_epochs=0), "max_epochs", "0 must be >= 1"),
                                (lambda: SyntheticSpec(frames=5), "frames", "need at least 20 frames"),
                                (lambda: SyntheticSpec(oracle="gold"), "oracle", "'gold'; allowed:"),
                                (lambda: ValidationSpec(oracle_steps=55), "oracle_steps",
                                 "55 must be a multiple of 10"),
                                (lambda: ValidationSpec(replicate=(2, 2)), "replicate", "three integers >= 1")):
        with pytest.raises(InvalidSetting) as err:
            make()
        assert err.value.key == key and fragment in err.value.message
    from mlmd_parsl.science.choices import Trainer

    assert TrainingSpec(trainer="lean").trainer is Trainer.LEAN  # the word from YAML becomes the member


def test_the_renamed_training_engine_key_is_read_as_training_trainer_with_a_note_naming_both(tmp_path, capsys):
    from mlmd_parsl.science.choices import Trainer

    for overrides, where in ((["training.engine=lean"], "--set training.engine=lean: training.engine"),
                             ([], "site.yaml:3: training.engine")):
        path = write(tmp_path, "name: x\ntraining:\n  engine: lean\n") if not overrides else "local"
        assert load_site_config(path, overrides).training.spec.trainer is Trainer.LEAN
        assert f"{where} is now training.trainer (the same values)" in capsys.readouterr().err
    path = write(tmp_path, "name: x\ntraining:\n  engine: lean\n  trainer: hippynn\n")
    with pytest.raises(ConfigError, match="site.yaml:3: training.engine: renamed training.trainer, which is given too"):
        load_site_config(path)
    assert load_site_config(path, ["training.trainer=lean"]).training.spec.trainer is Trainer.LEAN  # --set wins
    assert "training.engine is ignored: it is now training.trainer, which --set gives" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"site.yaml:3: training.trainer: 'diesel'; allowed"):  # the old key's line
        load_site_config(write(tmp_path, "name: x\ntraining:\n  engine: diesel\n"))


def test_engine_options_are_the_md_command_lines_flags_both_ways(tmp_path):
    from mlmd_parsl.md import build_parser, engine_options
    from mlmd_parsl.science.embedded.options import EngineOptions, md_argv

    for options in (EngineOptions(), EngineOptions(device="cuda:1", dtype="float64", pair_skin=0.5,
                                                   model_step="hippynn",
                                                   cuda_graph=False, compact_min_atoms=0, compile_network="off",
                                                   pair_kernels="triton")):
        argv = md_argv("m.pt", "box.data", (2, 2, 4), tmp_path / "log.lammps", options, profile="quick")
        assert argv[1:3] == ["-m", "mlmd_parsl.md"]
        args = build_parser().parse_args(argv[3:])
        assert engine_options(args) == options and args.replicate == [2, 2, 4] and args.profile == "quick"
