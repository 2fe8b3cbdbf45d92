// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The pollen Authors

package proto

import "github.com/pollen-dev/pollen/internal/core"

// TaskInfo answers [Join] with what the scheduler knows of the task.
//
//	TaskInfo: task [32] | size u64 | pieceSize u32 | peers u32 | seeds u32
type TaskInfo struct {
	Task      core.TaskID
	Size      uint64
	PieceSize uint32
	Peers     uint32 // peers in the task, the requester included
	Seeds     uint32 // peers that hold every piece
}

func (*TaskInfo) message() {}

// Type returns [TypeTaskInfo].
func (*TaskInfo) Type() Type { return TypeTaskInfo }

// Len returns the encoded length.
func (*TaskInfo) Len() int { return HeaderLen + 32 + 8 + 4 + 4 + 4 }

// Append appends the encoding of m to b.
func (m *TaskInfo) Append(b []byte) ([]byte, error) {
	b = appendHeader(b, TypeTaskInfo)
	b, err := format.AppendTask(b, m.Task)
	if err != nil {
		return b, err
	}
	b = appendU64(b, m.Size)
	b = appendU32(b, m.PieceSize)
	b = appendU32(b, m.Peers)
	return appendU32(b, m.Seeds), nil
}

func parseTaskInfo(b []byte) (TaskInfo, int, error) {
	d := format.Decoder(b)
	m := TaskInfo{Task: d.Task(), Size: d.U64(), PieceSize: d.U32(), Peers: d.U32(), Seeds: d.U32()}
	n, err := d.Done()
	return m, n, err
}
