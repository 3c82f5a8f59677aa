"""The embedded default: task families the project generates itself and the tiny base model.

Nothing here downloads anything. ``arith`` and ``codegen`` generate problems, ``dataset`` turns them
into verl-format parquet splits, ``tokenizer``/``model``/``warmup``/``build`` make the base model, and
``probe`` measures a model's accuracy on the held-out split.
"""
