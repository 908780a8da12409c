#!/usr/bin/env bash
# Leave-one-generator-out study: train the shipped recipe with some kinds left out, then score
# their test images as unseen. Each fold writes runs/loo/lite0_variety_<fold>.keras (+ card, familiarity
# statistics) and model/evaluation/generalisation/lite0_variety_<fold>.json, which the Evaluation page
# shows under "Seen vs unseen generators".
#
#   scripts/leave_one_out.sh                       # every fold, one after another
#   scripts/leave_one_out.sh loo_stylegan loo_swaps
#   BACKBONE=small_cnn LEARNING_RATE=1e-3 NAME_PREFIX= scripts/leave_one_out.sh   # the small CNN's recipe
# (The stored lite0_<fold> runs trained the shipped recipe before --augment included greyscale, the
# lite0_grey_<fold> runs before it included colour grading, retouching and sharpening:)
#   AUGMENT=no_grey NAME_PREFIX=lite0_ scripts/leave_one_out.sh loo_stylegan
#   AUGMENT=grey NAME_PREFIX=lite0_grey_ scripts/leave_one_out.sh loo_stylegan
#   AUGMENT=strong scripts/leave_one_out.sh loo_diffusion
#   AUGMENT=past ONE_VIEW=0 NAME_PREFIX=lite0_past_ scripts/leave_one_out.sh loo_diffusion   # a compressed past
#   AUGMENT=cutout ONE_VIEW=0 NAME_PREFIX=lite0_cutout_ scripts/leave_one_out.sh loo_diffusion   # face parts hidden
#   LR_SCHEDULE=cosine EPOCHS=10 PATIENCE=10 NAME_PREFIX=lite0_cosine_ scripts/leave_one_out.sh loo_stylegan
#   SELF_BLEND=0.5 RUNS=runs/loo_sbi OUT=runs/loo_sbi_eval scripts/leave_one_out.sh   # with pseudo-fakes
#   BACKBONE=local_cnn LEARNING_RATE=1e-3 RUNS=runs/loo_local OUT=runs/loo_local_eval scripts/leave_one_out.sh
# MIRROR=1 (the default) then also averages the fold's verdicts over the mirror image (deepfake-core mirror:
# same weights, temperature and familiarity refitted) and evaluates that as <name>_mirror, so each fold
# compares the two on the same weights; MIRROR=0 skips it.
# AVERAGE_FROM=EPOCH trains with weight averaging (train --average-from): the fold's model is the mean of the
# weights from that epoch on, and its best epoch is evaluated beside it as <name>_best_epoch (same run, so the
# comparison is free of run-to-run noise). ONE_VIEW=0 evaluates only the mirror-averaged models.
#   AVERAGE_FROM=4 ONE_VIEW=0 NAME_PREFIX=lite0_swa_ scripts/leave_one_out.sh loo_diffusion
# JPEG_QUALITY=Q trains with the card's jpeg_quality (train --jpeg-quality): every input re-encoded at quality Q.
# INPUT_SIZE=N trains on N-pixel face crops (default 128; the crops are cut from the cached detections):
#   INPUT_SIZE=160 NAME_PREFIX=lite0_160_ RUNS=runs/loo_160 OUT=runs/loo_160_eval scripts/leave_one_out.sh loo_diffusion
# PROBE_EPOCHS=N first trains the head alone on the frozen backbone for N epochs (train --probe-epochs, LP-FT):
#   PROBE_EPOCHS=2 ONE_VIEW=0 NAME_PREFIX=lite0_lpft_ RUNS=runs/loo_lpft OUT=runs/loo_lpft_eval scripts/leave_one_out.sh loo_diffusion
# MIXUP=ALPHA trains on mixup blends of two faces (train --mixup):
#   MIXUP=0.2 ONE_VIEW=0 NAME_PREFIX=lite0_mixup_ RUNS=runs/loo_mixup scripts/leave_one_out.sh loo_diffusion
# FREEZE_NORMS=1 keeps the backbone's BatchNorm statistics and scales at ImageNet's (train --freeze-norms):
#   FREEZE_NORMS=1 ONE_VIEW=0 NAME_PREFIX=lite0_frozen_bn_ RUNS=runs/loo_frozen_bn OUT=runs/loo_frozen_bn_eval scripts/leave_one_out.sh loo_stylegan
# SINGLE_CENTER=WEIGHT adds the single-center loss to the cross-entropy (train --single-center):
#   SINGLE_CENTER=0.5 ONE_VIEW=0 NAME_PREFIX=lite0_scl_ RUNS=runs/loo_scl OUT=runs/loo_scl_eval scripts/leave_one_out.sh loo_diffusion
# INIT_FROM=PREFIX trains each fold further from PREFIX<fold>.keras (train --init-from), e.g. the single-center loss
# switched on after the cross-entropy epochs of an earlier run of the same fold:
#   INIT_FROM=runs/loo_wise/lite0_wise_ SINGLE_CENTER=0.2 EPOCHS=4 PATIENCE=2 LEARNING_RATE=5e-5 ONE_VIEW=0 \
#     NAME_PREFIX=lite0_scl_ft_ RUNS=runs/loo_scl OUT=runs/loo_scl_eval scripts/leave_one_out.sh loo_stylegan
# BACKBONE=efficientnet_lite1 trains from EfficientNet-Lite1's ImageNet weights (1.1x deeper than Lite0):
#   BACKBONE=efficientnet_lite1 ONE_VIEW=0 NAME_PREFIX=lite1_ RUNS=runs/loo_lite1 OUT=runs/loo_lite1_eval scripts/leave_one_out.sh loo_diffusion
# NO_ATTENTION=1 pools the backbone's features with a plain average instead of the attention branch (train --no-attention):
#   NO_ATTENTION=1 ONE_VIEW=0 NAME_PREFIX=lite0_gap_ RUNS=runs/loo_gap OUT=runs/loo_gap_eval scripts/leave_one_out.sh loo_diffusion
# KEEP_EPOCHS=1 also writes every epoch's weights to $RUNS/<name>_epochs (train --keep-epochs), which
# benchmarks/epochs_unseen.py scores epoch by epoch:
#   KEEP_EPOCHS=1 ONE_VIEW=0 NAME_PREFIX=lite0_epochs_ RUNS=runs/loo_epochs OUT=runs/loo_epochs_eval scripts/leave_one_out.sh loo_diffusion
# ANCHOR_DECAY=RATE pulls every backbone weight RATE of the way back to its ImageNet value after each step
# (train --anchor-decay):
#   ANCHOR_DECAY=3e-3 KEEP_EPOCHS=1 ONE_VIEW=0 NAME_PREFIX=lite0_anchor_ RUNS=runs/loo_anchor OUT=runs/loo_anchor_eval scripts/leave_one_out.sh loo_stylegan
# KIND_HEAD=WEIGHT adds a training-only head that names each face's kind beside the verdict (train --kind-head):
#   KIND_HEAD=0.5 KEEP_EPOCHS=1 ONE_VIEW=0 NAME_PREFIX=lite0_kinds_ RUNS=runs/loo_kinds OUT=runs/loo_kinds_eval scripts/leave_one_out.sh loo_diffusion
# KIND_BALANCE=POWER weighs each kind by (its label's mean kind size / its size) ** POWER (train --kind-balance;
# default 0.5; 1 gives every kind of a label the same total weight, so CelebA no longer outweighs the other real sources):
#   KIND_BALANCE=1 ONE_VIEW=0 NAME_PREFIX=lite0_kb1_ RUNS=runs/loo_kb OUT=runs/loo_kb_eval scripts/leave_one_out.sh loo_diffusion
# EXCLUDE_ALSO="KIND ..." leaves those kinds out of every fold's training too (scored as unseen with the fold's own),
# e.g. CelebA and the grey-backdrop GAN faces, the pair that differs in more than realness:
#   EXCLUDE_ALSO="celeba gan256" ONE_VIEW=0 NAME_PREFIX=lite0_matched_ RUNS=runs/loo_matched OUT=runs/loo_matched_eval scripts/leave_one_out.sh loo_diffusion
# MANIFEST=FILE trains and evaluates on another split manifest, e.g. one with half the people photos in training
# (evaluate then scores only the photos it leaves out):
#   deepfake-core split --data ../shared/data/faces --out runs/pp/manifest_photos1.json --seed 0 --add-real ../shared/data/people_photos
#   MANIFEST=runs/pp/manifest_photos1.json ONE_VIEW=0 NAME_PREFIX=lite0_photos1_ RUNS=runs/loo_pp OUT=runs/loo_pp_eval scripts/leave_one_out.sh loo_diffusion
# SPLIT=test+unseen (the default) scores every image of the left-out kinds, not only their test images, and writes
# <run>_all_unseen.json; SPLIT=test scores the test split only, as the runs stored before this option did.
# loo_sd21 and loo_sd1x leave out one diffusion model and keep the other: what seeing one does for the next.
#
# To keep a fold within ~25 minutes on a 2-core CPU, training draws at most 1200 images per
# kind (celeba, gan256 and utkface have more) and runs at most 12 epochs.
set -euo pipefail

DATA=${DATA:-../shared/data/faces}
PHOTOS=${PHOTOS:-../shared/data/people_photos}
MANIFEST=${MANIFEST:-model/split_manifest.json}
RUNS=${RUNS:-runs/loo}
OUT=${OUT:-model/evaluation/generalisation}
AUGMENT=${AUGMENT:-standard}
EPOCHS=${EPOCHS:-12}
PATIENCE=${PATIENCE:-4}
SELF_BLEND=${SELF_BLEND:-0}
BACKBONE=${BACKBONE:-efficientnet_lite0}
LEARNING_RATE=${LEARNING_RATE:-1e-4}
LR_SCHEDULE=${LR_SCHEDULE:-plateau}
NAME_PREFIX=${NAME_PREFIX-lite0_variety_}   # names the runs (and their rows on the Evaluation page) by recipe
MIRROR=${MIRROR:-1}
AVERAGE_FROM=${AVERAGE_FROM:-}
ONE_VIEW=${ONE_VIEW:-1}
JPEG_QUALITY=${JPEG_QUALITY:-}
INPUT_SIZE=${INPUT_SIZE:-128}
PROBE_EPOCHS=${PROBE_EPOCHS:-}
MIXUP=${MIXUP:-}
FREEZE_NORMS=${FREEZE_NORMS:-}
SINGLE_CENTER=${SINGLE_CENTER:-}
INIT_FROM=${INIT_FROM:-}
NO_ATTENTION=${NO_ATTENTION:-}
KEEP_EPOCHS=${KEEP_EPOCHS:-}
ANCHOR_DECAY=${ANCHOR_DECAY:-}
KIND_HEAD=${KIND_HEAD:-}
KIND_BALANCE=${KIND_BALANCE:-0.5}
EXCLUDE_ALSO=${EXCLUDE_ALSO:-}
SPLIT=${SPLIT:-test+unseen}

declare -A FOLDS=(
  [loo_diffusion]="sd21 sd1x_class_man"
  [loo_stylegan]="stylegan1024 stylegan2_tpdne"
  [loo_swaps]="faceswap_dfdc faceswap_inswapper"
  [loo_photoshop]="ciplab_photoshop"
  [loo_utkface]="utkface"
  [loo_sd21]="sd21"
  [loo_sd1x]="sd1x_class_man"
)
ORDER=(loo_diffusion loo_stylegan loo_swaps loo_photoshop loo_utkface loo_sd21 loo_sd1x)

mkdir -p "$RUNS" "$OUT"
for fold in "${@:-${ORDER[@]}}"; do
  kinds=${FOLDS[$fold]:?unknown fold $fold (one of ${ORDER[*]})}
  name=$NAME_PREFIX$fold
  # shellcheck disable=SC2086  # the kinds are separate arguments
  deepfake-core train --data "$DATA" --manifest "$MANIFEST" --out "$RUNS/$name.keras" --name "$name" \
    --backbone "$BACKBONE" --input-size "$INPUT_SIZE" --learning-rate "$LEARNING_RATE" --lr-schedule "$LR_SCHEDULE" --face-crop --epochs "$EPOCHS" --patience "$PATIENCE" --augment "$AUGMENT" --kind-balance "$KIND_BALANCE" --seed 0 \
    --max-per-kind 1200 --self-blend "$SELF_BLEND" --exclude-kinds $kinds $EXCLUDE_ALSO ${AVERAGE_FROM:+--average-from "$AVERAGE_FROM"} \
    ${JPEG_QUALITY:+--jpeg-quality "$JPEG_QUALITY"} ${PROBE_EPOCHS:+--probe-epochs "$PROBE_EPOCHS"} \
    ${MIXUP:+--mixup "$MIXUP"} ${FREEZE_NORMS:+--freeze-norms} ${NO_ATTENTION:+--no-attention} \
    ${KEEP_EPOCHS:+--keep-epochs "$RUNS/${name}_epochs"} ${ANCHOR_DECAY:+--anchor-decay "$ANCHOR_DECAY"} \
    ${SINGLE_CENTER:+--single-center "$SINGLE_CENTER"} ${INIT_FROM:+--init-from "$INIT_FROM$fold.keras"} \
    ${KIND_HEAD:+--kind-head "$KIND_HEAD"}
  trained=("$name")
  [[ -n $AVERAGE_FROM ]] && trained+=("${name}_best_epoch")
  runs=()
  for model in "${trained[@]}"; do
    [[ $ONE_VIEW == 1 || $MIRROR != 1 ]] && runs+=("$model")
    if [[ $MIRROR == 1 ]]; then
      deepfake-core mirror --model "$RUNS/$model.keras" --data "$DATA" --manifest "$MANIFEST" --out "$RUNS/${model}_mirror.keras"
      runs+=("${model}_mirror")
    fi
  done
  suffix=$([[ $SPLIT == test+unseen ]] && echo _all_unseen || true)
  for run in "${runs[@]}"; do
    deepfake-core evaluate --model "$RUNS/$run.keras" --data "$DATA" --manifest "$MANIFEST" --split "$SPLIT" \
      --out "$OUT/$run$suffix.json" --no-robustness --false-alarm-data "$PHOTOS"
  done
done
