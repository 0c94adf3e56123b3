"""Synthetic indirect object identification: "Then B and A went to the PLACE . B gave a OBJECT to"
→ A, with random name, place and object tokens, in both name orders.

Run:
    emergence-jax train experiments/ioi.py --metrics abba/accuracy abba/logit_diff baba/logit_diff
    emergence-jax train experiments/ioi.py --set task.train_order=baba   # test the unseen order

What to expect (CPU, a few minutes for 8 seeds): the model first learns to answer with one of the
two names of the sentence, picked without regard to which is repeated (accuracy and
``io_over_s`` near 0.5 around step 50), then learns to reject the repeated name: accuracy reaches
1.0 and ``logit_diff`` (logit(IO) − logit(S)) grows past 8 nats by step 150–200, for both orders.
With MLPs this small model does not need a dedicated name-mover head (``io_attention_max`` stays
near 0.25); with ``model.attention_only=true`` the task has to be solved by attention alone.
"""

from emergence_jax.core.config import (ExperimentConfig, IOIConfig, ModelConfig, OptimizerConfig,
                                       PopulationConfig, TrainConfig)


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="ioi",
        model=ModelConfig(depth=2, width=64, heads=4, pos_encoding="rope"),
        task=IOIConfig(num_names=16, num_places=8, num_objects=8, eval_examples=128,
                       probe_examples=32),
        optimizer=OptimizerConfig(learning_rate=3e-3, warmup_steps=50),
        train=TrainConfig(steps=400, batch_size=64, eval_every=25, evals_per_chunk=8),
        population=PopulationConfig(num_seeds=8),
    )
