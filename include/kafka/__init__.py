"""Kafka helpers shared by the replay producer, the DLQ retry and the bootstrap DAG.

``topics`` declares the pipeline's topics, ``metadata`` reads partition counts, ``partitioner`` is
librdkafka's key -> partition rule, ``errors`` what those can raise. No Airflow imports.
"""
